/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A session's summary figures, kept online in bounded memory: CPU mean,
 * p95 (from a 0.05-point histogram) and max; memory at start, end and max;
 * memory growth in MB per hour from a least-squares line over the run.
 */

#include <stddef.h>
#include <stdint.h>

#define STATS_CPU_BUCKETS 2001 /* 0.00 .. 100.00 % in 0.05-point steps */

typedef struct SessionStats {
        size_t n;
        double cpu_sum, cpu_max;
        uint32_t cpu_hist[STATS_CPU_BUCKETS];
        double mem_first, mem_last, mem_max;
        /* No slope of memory: a straight line over every row calls warm-up and restarts growth. The
         * record's memory_trend is the report's verdict (common/trend), made at stop. */
} SessionStats;

typedef struct StatsSummary {
        size_t samples;
        double cpu_mean, cpu_p95, cpu_max;
        double memory_start_mb, memory_end_mb, memory_max_mb;
} StatsSummary;

void stats_init(SessionStats *s);
void stats_add(SessionStats *s, double elapsed_seconds, double cpu_percent, double memory_mb);
void stats_summary(const SessionStats *s, StatsSummary *ret);

/*
 * The record's "summary" object, replacing one already in into: every figure rounded to
 * 0.001, null where there is none. The one writer, for the live session and for recovery.
 */
typedef struct cJSON cJSON;
int stats_summary_to_json(const StatsSummary *sum, cJSON *into);
/* key: v rounded to 0.001, or null where v is not finite: how every figure of a record is written. */
void stats_json_number(cJSON *o, const char *key, double v);
