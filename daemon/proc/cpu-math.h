/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * CPU figures from two snapshots: pure arithmetic, times are arguments
 * (systemd oomd's "decide" half). How the snapshots are gathered, and why
 * from which counters, is explained at the top of cpu-math.c.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "time-util.h"

typedef struct CpuSnapshot {
        usec_t mono;           /* CLOCK_MONOTONIC when the counters were read */
        pid_t pid;             /* with starttime, the identity of the process */
        uint64_t starttime;    /* /proc/PID/stat field 22 */
        uint64_t utime, stime; /* the process's own ticks (/proc/PID/stat 14, 15) */
        /* Exact run time of the process's own threads in ns, a counter kept
         * by the caller so that cur.runtime_ns - prev.runtime_ns is the
         * interval's run time. Only used when cur.runtime_exact: false when
         * the interval cannot be known exactly (a thread exited, no
         * schedstat), and the ticks are used instead; they are also used
         * when the two disagree by more than the ticks' truncation. */
        uint64_t runtime_ns;
        bool runtime_exact;
        /* Descendants' ticks, counters kept by the caller (see proc-tree.h);
         * 0 and 0 when children are not followed. */
        uint64_t child_utime, child_stime;
} CpuSnapshot;

typedef struct CpuFigures {
        double cpu_percent;       /* share of the machine: 100 = every CPU busy */
        double cpu_core_percent;  /* 100 = one CPU busy (top, psutil) */
        double user_core_percent; /* user + system = core */
        double system_core_percent;
} CpuFigures;

/*
 * The figures for the interval prev -> cur, over the real time between them.
 * -ESTALE when they cannot be compared (another pid, the pid reused, time not
 * moving forward): the caller takes cur as a new baseline. -EINVAL for
 * ncpus or ticks_per_sec of 0. Figures are never negative, nor above the
 * machine (ncpus cores).
 */
int cpu_math_figures(const CpuSnapshot *prev, const CpuSnapshot *cur, unsigned ncpus,
                     unsigned long ticks_per_sec, CpuFigures *ret);

/* One thread's counters (schedstat) at one sample. */
typedef struct ThreadRuntime {
        pid_t tid;
        uint64_t runtime_ns;
        uint64_t timeslices; /* times put on a CPU: its wake-ups (sampler.c) */
} ThreadRuntime;

/*
 * The run time of a thread set over an interval, from two lists sorted by
 * tid: threads in both count their increase, new ones their whole run time
 * (they started within the interval). True and *ret_delta_ns when that is
 * the exact figure; false when a thread of prev is missing from cur or its
 * counter went back (exited, its tid reused): its last moments are lost, and
 * the caller falls back to the process's ticks, which keep exited threads.
 */
bool cpu_math_threads_delta(const ThreadRuntime *prev, size_t n_prev, const ThreadRuntime *cur, size_t n_cur,
                            uint64_t *ret_delta_ns);

/* ns of run time over an interval as a percentage of one core; 0 for an
 * empty interval. */
double cpu_math_core_percent(uint64_t runtime_ns, usec_t interval);

/* The increase of a counter that only grows, from prev to cur; cur whole when
 * it went back (the tid was reused: a new thread counted from its start). */
uint64_t cpu_math_counter_delta(uint64_t prev, uint64_t cur);

/* count events over an interval, per second; 0 for an empty interval. */
double cpu_math_per_second(uint64_t count, usec_t interval);
