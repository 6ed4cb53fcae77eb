/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Memory judged by the evidence, not by the clock (the seed's "Memory:
 * stable (no leaks)"): the shape of RSS over the longest stretch of rows
 * with one PAM pid (a restart starts memory afresh, so rows of two pids are
 * never fitted together), whatever the session's length:
 *
 *   leak      a rise that is large (1 MB and 1 % of RSS at least, ten times
 *             the rows' scatter), steady (a straight line explains 90 % of
 *             it, and the second half rises at half the overall rate or
 *             more) and certain (its 95 % interval excludes 0): the only
 *             shape given in MB per hour, with that interval and a
 *             confidence;
 *   growing   as large, still rising at the end, but not steadily enough to
 *             put a rate on it;
 *   warm-up   growth that slows to a stop from the start (caches filling):
 *             flat for the last quarter, or the second half rising at a
 *             third of the first half's rate or less;
 *   plateau   the same, begun later;
 *   step      most of the rise (60 %) within a few rows, flat around it;
 *   sawtooth  it falls back by a third of what it rises, in two drops or more
 *             of half a trend's size each;
 *   stable    no rise larger than that;
 *   too short fewer than 8 rows or 5 s with one pid.
 *
 * Pure: the rows in, the verdict out. The report judges by it and the plot
 * draws its straight line over the rows judged, so the two say the same.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum MemShape {
        MEM_TOO_SHORT,
        MEM_STABLE,
        MEM_LEAK,
        MEM_GROWING,
        MEM_WARMUP,
        MEM_PLATEAU,
        MEM_STEP,
        MEM_SAWTOOTH,
} MemShape;

typedef struct MemTrend {
        MemShape shape;
        size_t first, end;        /* the rows judged: [first, end), one pid */
        size_t rows;              /* of them, with a memory figure */
        int32_t pid;              /* theirs (0: no pid column) */
        bool whole;               /* they are every row: no restart cut the CSV */
        double t0, t1;            /* their first and last elapsed seconds */
        double first_mb, last_mb; /* the first and last rows' */
        double start_mb, end_mb;  /* the level at the start and the end (medians of a tenth of the rows) */
        double rise_mb, noise_mb, significant_mb;
        double slope, ci95, r2;           /* the straight line, MB per hour */
        double line_mb0;                  /* its level at elapsed 0 s (NAN: none); see mem_trend_line_at */
        double first_half, second_half;   /* the halves' lines, MB per hour */
        double step_mb, step_t0, step_t1; /* the largest rise within a few rows, and when */
        double flat_from;                 /* growth that stopped: flat from then on (elapsed s); NAN */
        double falls_mb;                  /* the drops beyond the scatter, summed */
        const char *confidence;           /* a leak's: "high" or "medium"; NULL */
} MemTrend;

/* t: elapsed seconds (non-decreasing), mem: MB (NAN: none), pid (NULL or 0s: one process). */
void mem_trend_judge(const double *t, const float *mem, const int32_t *pid, size_t n, MemTrend *ret);

const char *mem_shape_name(MemShape s);

/* The least-squares line's level in MB at elapsed second t (NAN when there is none: too short). */
double mem_trend_line_at(const MemTrend *m, double t);

/* A sentence for people: what it saw, with the figures ("a warm-up: +1.4 MB in the first 22 s, ..."). */
void mem_trend_describe(const MemTrend *m, char *buf, size_t size);
