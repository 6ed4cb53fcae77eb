/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One row of a session's _cpu.csv, and one row of its _threads.csv.
 *
 * The first five columns are the seed's monitor_cpu.py columns, with the
 * same meaning; the rest follow, and readers go by name. A figure that was
 * not measured for a row (PSS between its slower reads, the profiler's when
 * there is no profiler) is NAN and is written as an empty cell.
 */

#include <stddef.h>
#include <sys/types.h>

#include "time-util.h"

typedef struct SampleRow {
        double elapsed;              /* elapsed_seconds: monotonic, since session start */
        usec_t realtime;             /* timestamp: wall clock when sampled */
        double cpu_percent;          /* share of the whole machine: 100 = every core busy */
        double memory_mb;            /* RSS in MiB */
        double memory_percent;       /* RSS / MemTotal * 100 */
        double cpu_core_percent;     /* 100 = one core busy, as top and psutil show */
        double user_core_percent;    /* user-mode part of it */
        double system_core_percent;  /* kernel-mode part of it */
        double pss_mb;               /* PSS from smaps_rollup, MiB; NAN when not read this row */
        unsigned threads;            /* threads of the target (and descendants) */
        unsigned processes;          /* 1, or 1 + descendants with --include-children */
        pid_t pid;                   /* the target's pid for this row */
        double profiler_cpu_percent; /* the profiler child, same unit as cpu_percent; NAN: none */
        double profiler_rss_mb;      /* the profiler child's RSS, MiB; NAN: none */
        double wakeups_per_second;   /* the target's own threads' wake-ups, summed; NAN: not measured */
} SampleRow;

/* The name of the row (tid 0) that holds the CPU of threads that ended between two samples. */
#define SAMPLER_ENDED_THREADS "(ended threads)"

typedef struct ThreadSample {
        pid_t tid;               /* what py-spy's speedscope profiles are named by */
        char name[17];           /* /proc/PID/task/TID/comm */
        double cpu_core_percent; /* 100 = one core */
        /* Times the scheduler put it on a CPU, per second: its wake-ups
         * (for a CPU-bound thread, its timeslices; sampler.c says why this
         * counter). NAN: not measured (no schedstat). */
        double wakeups_per_second;
} ThreadSample;

/* Header lines, without the trailing newline. */
extern const char sample_csv_header[];
extern const char thread_csv_header[];

/* Write one CSV line (with '\n') into buf; the number of bytes, or -ENOBUFS. */
int sample_row_format(const SampleRow *row, char *buf, size_t size);
int thread_row_format(double elapsed, const ThreadSample *t, char *buf, size_t size);
