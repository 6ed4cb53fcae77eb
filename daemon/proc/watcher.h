/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Finds PAM by a regular expression over its command line and follows it:
 * its exit arrives at once through a pidfd in the event loop; only while
 * it is absent does a slow timer look for it again.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "time-util.h"

typedef struct Watcher Watcher;

typedef struct WatcherCallbacks {
        void (*found)(void *userdata, pid_t pid);
        void (*lost)(void *userdata, pid_t pid);
        void *userdata;
} WatcherCallbacks;

int watcher_new(sd_event *e, int proc_fd, const char *regex, usec_t scan_interval,
                const WatcherCallbacks *cb, Watcher **ret);
/* PAM as the MainPID of a systemd unit (target_unit), followed by D-Bus signals. */
int watcher_new_unit(sd_event *e, int proc_fd, const char *unit, const WatcherCallbacks *cb, Watcher **ret);
Watcher *watcher_free(Watcher *w);
const char *watcher_unit(const Watcher *w); /* NULL in regex mode */

pid_t watcher_pid(const Watcher *w);           /* 0 when absent */
const char *watcher_cmdline(const Watcher *w); /* NULL when absent */
usec_t watcher_since(const Watcher *w);        /* monotonic time it was found */
unsigned watcher_restarts(const Watcher *w);   /* new pids seen after a loss */

/* Looks now (e.g. before refusing a start); 0 if found. */
int watcher_rescan(Watcher *w);

/*
 * One pass over <proc>: the best process whose command line matches re,
 * skipping skip_pid and its children (the daemon's workers carry its command line,
 * and with it a --target-match). Pure enough to test over fixture trees.
 */
struct re_pattern_buffer;
int target_scan(int proc_fd, const struct re_pattern_buffer *re, pid_t skip_pid, pid_t *ret_pid,
                char **ret_cmdline);

/* Reads pid's command line, NUL separators as spaces. */
int target_read_cmdline(int proc_fd, pid_t pid, char **ret);
