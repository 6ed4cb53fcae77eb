/* SPDX-License-Identifier: MIT */
#include "plot-csv.h"
#include "format-util.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int plot_error(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = error_setv(ret_error, r, fmt, ap);
        va_end(ap);
        return r;
}

void plot_cpu_done(PlotCpuData *d)
{
        free(d->elapsed);
        free(d->cpu);
        free(d->mem);
        free(d->prof_cpu);
        free(d->pid);
        memset(d, 0, sizeof(*d));
}

static int grow(void **p, size_t cap, size_t size)
{
        void *q;

        if (!*p && cap == 0)
                return 0;
        q = realloc(*p, cap * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        return 0;
}

static int cpu_reserve(PlotCpuData *d, bool prof, bool pid)
{
        size_t cap;

        if (d->n < d->cap)
                return 0;
        cap = d->cap ? d->cap * 2 : 1024;
        if (grow((void **) &d->elapsed, cap, sizeof(double)) < 0 ||
            grow((void **) &d->cpu, cap, sizeof(float)) < 0 ||
            grow((void **) &d->mem, cap, sizeof(float)) < 0 ||
            (prof && grow((void **) &d->prof_cpu, cap, sizeof(float)) < 0) ||
            (pid && grow((void **) &d->pid, cap, sizeof(int32_t)) < 0))
                return -ENOMEM;
        d->cap = cap;
        return 0;
}

typedef struct CpuColumns {
        int elapsed, cpu, mem, ts, prof, pid;
        size_t count;
} CpuColumns;

static void skip(PlotCpuData *d, unsigned long line, const char *fmt, ...) _printf_(3, 4);
static void skip(PlotCpuData *d, unsigned long line, const char *fmt, ...)
{
        va_list ap;

        if (d->skipped++ > 0)
                return;
        d->first_skipped_line = line;
        va_start(ap, fmt);
        vsnprintf(d->first_skip_reason, sizeof(d->first_skip_reason), fmt, ap);
        va_end(ap);
}

/* A measured figure: a finite number >= 0, or empty (NAN). false: the row is bad. */
static bool read_figure(const CsvReader *r, int col, double *v)
{
        int k = csv_figure(r, col, v);

        return k == -ENODATA || (k == 0 && *v >= 0);
}

static void copy_timestamp(char *dst, size_t size, const char *s)
{
        size_t n;

        s = csv_trim(s, &n);
        if (n == 0)
                return;
        if (n >= size)
                n = size - 1;
        memcpy(dst, s, n);
        dst[n] = '\0';
}

static int cpu_row(PlotCpuData *d, const CsvReader *r, const CpuColumns *c)
{
        static const char *const names[] = { "elapsed_seconds", "cpu_percent", "memory_mb",
                                             "profiler_cpu_percent", "pid" };
        int cols[] = { c->elapsed, c->cpu, c->mem, c->prof, c->pid };
        double v[5];
        int k;

        if (r->malformed)
                return skip(d, r->line_no, "broken quoting"), 0;
        if (r->nfields != c->count)
                return skip(d, r->line_no, "%zu fields where the header has %zu", r->nfields, c->count), 0;
        for (int i = 0; i < 5; i++)
                if (!read_figure(r, cols[i], &v[i]))
                        return skip(d, r->line_no, "%s is \"%.24s\"", names[i], r->fields[cols[i]]), 0;
        if (isnan(v[0]))
                return skip(d, r->line_no, "elapsed_seconds is empty"), 0;
        if (d->n > 0 && v[0] < d->elapsed[d->n - 1])
                return skip(d, r->line_no, "elapsed_seconds goes back in time"), 0;
        if (v[1] > FLT_MAX || v[2] > FLT_MAX || v[3] > FLT_MAX)
                return skip(d, r->line_no, "a figure is beyond %g", (double) FLT_MAX), 0;
        if (!isnan(v[4]) && (v[4] != floor(v[4]) || v[4] > INT32_MAX))
                return skip(d, r->line_no, "pid is \"%.24s\"", r->fields[c->pid]), 0;
        k = cpu_reserve(d, c->prof >= 0, c->pid >= 0);
        if (k < 0)
                return k;
        d->elapsed[d->n] = v[0];
        d->cpu[d->n] = (float) v[1];
        d->mem[d->n] = (float) v[2];
        if (d->prof_cpu)
                d->prof_cpu[d->n] = (float) v[3];
        if (d->pid)
                d->pid[d->n] = isnan(v[4]) ? 0 : (int32_t) v[4];
        if (c->ts >= 0) {
                if (!d->first_timestamp[0])
                        copy_timestamp(d->first_timestamp, sizeof(d->first_timestamp), r->fields[c->ts]);
                copy_timestamp(d->last_timestamp, sizeof(d->last_timestamp), r->fields[c->ts]);
        }
        d->n++;
        return 0;
}

int plot_cpu_read(FILE *f, const char *what, PlotCpuData *ret, char **ret_error)
{
        _cleanup_(csv_reader_done) CsvReader r;
        PlotCpuData d = { 0 };
        CpuColumns c;
        int k;

        csv_reader_init(&r, f);
        do
                k = csv_reader_next(&r);
        while (k > 0 && csv_blank(&r));
        if (k < 0)
                return plot_error(ret_error, k, "Could not read %s: %s.", what, strerror(-k));
        if (k == 0)
                return plot_error(ret_error, -ENODATA, "%s is empty: no header and no data rows.", what);
        c = (CpuColumns){
                .elapsed = csv_column(&r, "elapsed_seconds"),
                .cpu = csv_column(&r, "cpu_percent"),
                .mem = csv_column(&r, "memory_mb"),
                .ts = csv_column(&r, "timestamp"),
                .prof = csv_column(&r, "profiler_cpu_percent"),
                .pid = csv_column(&r, "pid"),
                .count = r.nfields,
        };
        if (c.elapsed < 0 || (c.cpu < 0 && c.mem < 0))
                return plot_error(ret_error, -EBADMSG,
                                  "%s is not a pamprofd CPU CSV: its header (line %lu) has no "
                                  "elapsed_seconds, cpu_percent or memory_mb column.",
                                  what, r.line_no);
        d.has_cpu = c.cpu >= 0;
        d.has_mem = c.mem >= 0;
        while ((k = csv_reader_next(&r)) > 0) {
                if (csv_blank(&r))
                        continue;
                k = cpu_row(&d, &r, &c);
                if (k < 0)
                        break;
        }
        if (k < 0) {
                plot_cpu_done(&d);
                return plot_error(ret_error, k, "Could not read %s: %s.", what, strerror(-k));
        }
        *ret = d;
        return 0;
}
