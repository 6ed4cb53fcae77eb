/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * /proc/PID/stat and /proc/PID/task/TID/stat (proc(5)).
 *
 * The comm field is the hostile part: it is whatever the process named
 * itself (prctl(PR_SET_NAME), a thread name), so it may hold spaces, ") ",
 * "(" or a newline. It ends at the LAST ')' of the text, since nothing after
 * it can contain one.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest comm procfs prints (kernel workers show up to 63 characters). */
#define PROC_COMM_MAX 64

typedef struct ProcStat {
        pid_t pid;                    /* field 1 */
        char comm[PROC_COMM_MAX + 1]; /* field 2, without the parentheses, truncated if longer */
        char state;                   /* field 3: R, S, D, Z, ... */
        pid_t ppid;                   /* field 4 */
        uint64_t utime;               /* field 14, clock ticks */
        uint64_t stime;               /* field 15, clock ticks */
        uint64_t cutime;              /* field 16, waited-for children, clock ticks */
        uint64_t cstime;              /* field 17, waited-for children, clock ticks */
        uint64_t num_threads;         /* field 20 */
        uint64_t starttime;           /* field 22, clock ticks after boot: with pid, the identity */
        uint64_t vsize;               /* field 23, bytes */
        uint64_t rss;                 /* field 24, pages */
} ProcStat;

/* 0 and *ret; -EBADMSG for malformed or truncated text, -ERANGE for a
 * number that does not fit. */
int proc_stat_parse(const char *buf, size_t len, ProcStat *ret);

/* Reads and parses <proc_fd>/PID/stat: 0, -ESRCH when the process is gone, or as proc_stat_parse(). */
int proc_stat_read(int proc_fd, pid_t pid, ProcStat *ret);
