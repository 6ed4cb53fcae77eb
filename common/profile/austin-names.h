/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Names for the threads of an Austin run. Austin gives kernel thread ids
 * only; the daemon reads /proc/PID/task/TID/comm while the run goes on and
 * appends "pid tid name" lines to a file next to the run's output (the name
 * with '\' and newline escaped as \\ and \n), so the names survive the
 * threads, the target and a daemon crash. Later lines win.
 *
 * Profiles are named as py-spy names them, so reports join them with the
 * per-thread CSV by tid: `Thread TID "NAME"`, `Process PID Thread TID "NAME"`
 * when child processes are followed. The main thread (tid == pid) is
 * "MainThread", as Python calls it; a thread whose name is the process's own
 * (inherited, never set by the app) or that was never seen has no name:
 * `Thread TID`.
 */

#include <stdbool.h>
#include <stddef.h>

typedef struct AustinName {
        long pid, tid;
        char *name;
} AustinName;

typedef struct AustinNames {
        AustinName *v;
        size_t n, cap;
} AustinNames;

void austin_names_done(AustinNames *n);
int austin_names_add(AustinNames *n, long pid, long tid, const char *name);

/* Adds the lines of a names file; a malformed line is skipped. 0 or -ENOMEM. */
int austin_names_parse(AustinNames *n, const char *text, size_t len);

/* The last name given to (pid, tid), or NULL. */
const char *austin_names_lookup(const AustinNames *n, long pid, long tid);

/* One line of the file, with its newline; the length, or -ENOBUFS. */
int austin_names_format(long pid, long tid, const char *name, char *buf, size_t size);

/* The profile's name (names may be NULL). */
void austin_thread_label(const AustinNames *n, long pid, long iid, long tid, bool process_prefix, char *buf,
                         size_t size);
