/* SPDX-License-Identifier: MIT */
#include "sample.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"

const char sample_csv_header[] = "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp,"
                                 "cpu_core_percent,user_core_percent,system_core_percent,pss_mb,"
                                 "threads,processes,pid,profiler_cpu_percent,profiler_rss_mb,"
                                 "wakeups_per_second";

const char thread_csv_header[] = "elapsed_seconds,tid,thread_name,cpu_core_percent,wakeups_per_second";

/* A line being written into a fixed buffer; an overflow sticks. */
typedef struct Line {
        char *buf;
        size_t size, len;
        bool overflow;
} Line;

_printf_(2, 3) static void line_printf(Line *l, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (l->overflow)
                return;
        va_start(ap, fmt);
        n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= l->size - l->len)
                l->overflow = true;
        else
                l->len += (size_t) n;
}

/* ",12.34", or "," alone for a figure not measured (NAN). */
static void line_number(Line *l, double v, int decimals)
{
        if (isnan(v)) {
                line_printf(l, ",");
                return;
        }
        if (v == 0.0)
                v = 0.0; /* no "-0.00" */
        line_printf(l, ",%.*f", decimals, v);
}

/* RFC 4180: quoted, with quotes doubled, when it holds , " CR or LF. */
static void line_text(Line *l, const char *s)
{
        if (!strpbrk(s, ",\"\r\n")) {
                line_printf(l, "%s", s);
                return;
        }
        line_printf(l, "\"");
        for (const char *q; (q = strchr(s, '"')); s = q + 1)
                line_printf(l, "%.*s\"\"", (int) (q - s), s);
        line_printf(l, "%s\"", s);
}

static int line_end(Line *l)
{
        line_printf(l, "\n");
        if (l->overflow)
                return -ENOBUFS;
        return (int) l->len;
}

int sample_row_format(const SampleRow *row, char *buf, size_t size)
{
        Line l = { .buf = buf, .size = size };
        char stamp[ISO8601_MAX];
        int r;

        if (size == 0)
                return -ENOBUFS;
        r = format_iso8601(row->realtime, stamp, sizeof(stamp));
        if (r < 0)
                return r;

        line_printf(&l, "%.3f", row->elapsed);
        line_number(&l, row->cpu_percent, 2);
        line_number(&l, row->memory_mb, 2);
        line_number(&l, row->memory_percent, 3);
        line_printf(&l, ",%s", stamp);
        line_number(&l, row->cpu_core_percent, 2);
        line_number(&l, row->user_core_percent, 2);
        line_number(&l, row->system_core_percent, 2);
        line_number(&l, row->pss_mb, 2);
        line_printf(&l, ",%u,%u,%ld", row->threads, row->processes, (long) row->pid);
        line_number(&l, row->profiler_cpu_percent, 2);
        line_number(&l, row->profiler_rss_mb, 2);
        line_number(&l, row->wakeups_per_second, 1);
        return line_end(&l);
}

int thread_row_format(double elapsed, const ThreadSample *t, char *buf, size_t size)
{
        Line l = { .buf = buf, .size = size };

        if (size == 0)
                return -ENOBUFS;
        line_printf(&l, "%.3f,%ld,", elapsed, (long) t->tid);
        line_text(&l, t->name);
        line_number(&l, t->cpu_core_percent, 2);
        line_number(&l, t->wakeups_per_second, 1);
        return line_end(&l);
}
