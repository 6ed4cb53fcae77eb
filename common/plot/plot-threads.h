/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Reading a session's _threads.csv (elapsed_seconds,tid,thread_name,
 * cpu_core_percent: one row per thread per sample) for the per-thread
 * panel. A day of 40 threads is millions of rows, so nothing is kept per
 * row: a first pass totals each thread's CPU, a second decimates the
 * top threads (and the sum of all others) into pixel columns as it reads.
 * Memory stays O(threads + top_k x columns) whatever the file's length.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "plot-scale.h"

typedef struct PlotThread {
        pid_t tid;
        char *name; /* as the CSV names it (the thread's comm) */
        double sum; /* of cpu_core_percent over its rows */
        size_t samples;
        double mean; /* sum / samples */
        double max;
        double last_x;  /* reading state */
        Decimator line; /* its decimated series (top threads only) */
} PlotThread;

typedef struct PlotThreads {
        PlotThread *top; /* the top_k busiest, busiest first */
        size_t n_top;
        size_t n_threads; /* distinct tids seen */
        Decimator other;  /* the others, summed per sample */
        bool has_other;
        size_t rows, skipped;
} PlotThreads;

/*
 * fd must be seekable (it is read twice from its current offset; the
 * offset is left at the end). Columns are [x0, x1] in ncols pieces; a jump
 * in elapsed_seconds beyond gap (0: none) breaks a line.
 * 0; -ENODATA: no usable row; -EBADMSG: not a threads CSV; -ESPIPE; -errno.
 */
int plot_threads_read(int fd, double x0, double x1, unsigned ncols, double gap, unsigned top_k,
                      PlotThreads *ret, char **ret_error);
void plot_threads_done(PlotThreads *t);

/* "Thread 5678 \"MainThread\"", as py-spy's speedscope profiles are named. */
int plot_thread_label(const PlotThread *t, char *buf, size_t size);
