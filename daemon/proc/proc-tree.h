/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A process and its descendants (--include-children), from a scan of every
 * <proc>/PID/stat: who belongs (ppid chains), and how much CPU the
 * descendants used over an interval. Pure: the scan is the caller's.
 *
 * Descendants come and go between samples, so a plain sum of their utime +
 * stime would lose every child that exits (and never see one that lives less
 * than an interval: a subprocess call). The kernel moves the times of an
 * exited child into its parent's cutime/cstime when the parent reaps it, so
 * the delta counted here, in ticks, is:
 *   - each descendant present both times: its own increase;
 *   - each new descendant: its whole own time plus its reaped children's
 *     (it started within the interval, and so did they);
 *   - each member (the root too): the increase of its children's times,
 *     less what was already counted of the vanished descendants it reaped
 *     (found by following their ppid through other vanished ones), never
 *     below zero: a child that was reaped without the accounting
 *     (SIGCHLD ignored) or by a reaper outside the tree loses its last
 *     moments only.
 * The root's own time is not in it: the caller counts it, exactly.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ProcMember {
        pid_t pid;
        pid_t ppid;
        uint64_t starttime;      /* with pid, the identity */
        uint64_t utime, stime;   /* ticks */
        uint64_t cutime, cstime; /* ticks of reaped children */
        uint64_t rss_pages;
        uint64_t threads;
} ProcMember;

/*
 * Keeps in procs[0..n) only root and its descendants, sorted by pid, and
 * returns their number (0 when root is not among them). selected[] is
 * scratch space of n entries.
 */
size_t proc_tree_select(ProcMember *procs, size_t n, pid_t root, bool *selected);

/*
 * The descendants' ticks over the interval between two selections of the
 * same root, in *ret_utime and *ret_stime.
 */
void proc_tree_children_delta(const ProcMember *prev, size_t n_prev, const ProcMember *cur, size_t n_cur,
                              pid_t root, uint64_t *ret_utime, uint64_t *ret_stime);
