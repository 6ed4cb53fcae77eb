/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <string.h>

void stats_init(SessionStats *s)
{
        memset(s, 0, sizeof(*s));
}

static size_t cpu_bucket(double cpu)
{
        double b = floor(cpu / 100.0 * (STATS_CPU_BUCKETS - 1) + 0.5);

        if (!(b >= 0))
                return 0;
        if (b > STATS_CPU_BUCKETS - 1)
                return STATS_CPU_BUCKETS - 1;
        return (size_t) b;
}

void stats_add(SessionStats *s, double elapsed_seconds, double cpu_percent, double memory_mb)
{
        if (!isfinite(cpu_percent) || !isfinite(memory_mb) || !isfinite(elapsed_seconds))
                return;
        if (s->n == 0) {
                s->mem_first = memory_mb;
                s->cpu_max = cpu_percent;
                s->mem_max = memory_mb;
        }
        s->n++;
        s->cpu_sum += cpu_percent;
        if (cpu_percent > s->cpu_max)
                s->cpu_max = cpu_percent;
        s->cpu_hist[cpu_bucket(cpu_percent)]++;
        s->mem_last = memory_mb;
        if (memory_mb > s->mem_max)
                s->mem_max = memory_mb;
}

static double cpu_p95(const SessionStats *s)
{
        size_t want = (size_t) ceil(0.95 * (double) s->n), seen = 0;

        for (size_t i = 0; i < STATS_CPU_BUCKETS; i++) {
                seen += s->cpu_hist[i];
                if (seen >= want)
                        return (double) i * 100.0 / (STATS_CPU_BUCKETS - 1);
        }
        return s->cpu_max;
}

void stats_summary(const SessionStats *s, StatsSummary *ret)
{
        double n = (double) s->n;

        *ret = (StatsSummary){
                .samples = s->n,
                .cpu_mean = NAN,
                .cpu_p95 = NAN,
                .cpu_max = NAN,
                .memory_start_mb = NAN,
                .memory_end_mb = NAN,
                .memory_max_mb = NAN,
        };
        if (s->n == 0)
                return;
        ret->cpu_mean = s->cpu_sum / n;
        ret->cpu_p95 = fmin(cpu_p95(s), s->cpu_max);
        ret->cpu_max = s->cpu_max;
        ret->memory_start_mb = s->mem_first;
        ret->memory_end_mb = s->mem_last;
        ret->memory_max_mb = s->mem_max;
}

void stats_json_number(cJSON *o, const char *key, double v)
{
        if (isfinite(v))
                cJSON_AddNumberToObject(o, key, round(v * 1000) / 1000);
        else
                cJSON_AddNullToObject(o, key);
}

int stats_summary_to_json(const StatsSummary *sum, cJSON *into)
{
        cJSON *o;

        cJSON_DeleteItemFromObjectCaseSensitive(into, "summary");
        o = cJSON_AddObjectToObject(into, "summary");
        if (!o)
                return -ENOMEM;
        cJSON_AddNumberToObject(o, "samples", (double) sum->samples);
        stats_json_number(o, "cpu_mean", sum->cpu_mean);
        stats_json_number(o, "cpu_p95", sum->cpu_p95);
        stats_json_number(o, "cpu_max", sum->cpu_max);
        stats_json_number(o, "memory_start_mb", sum->memory_start_mb);
        stats_json_number(o, "memory_end_mb", sum->memory_end_mb);
        stats_json_number(o, "memory_max_mb", sum->memory_max_mb);
        return 0;
}
