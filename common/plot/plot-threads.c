/* SPDX-License-Identifier: MIT */
#include "plot-threads.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot-csv.h"
#include "sort-util.h"
#include "strtab.h"

typedef struct Columns {
        int elapsed, tid, name, cpu;
        size_t count;
} Columns;

/* All threads of pass one, found by tid: its bytes are the key of the one interned table. */
typedef struct ThreadTable {
        StrTab tids; /* index i is v[i]'s */
        PlotThread *v;
        size_t n, cap;
} ThreadTable;

static void table_done(ThreadTable *t)
{
        for (size_t i = 0; i < t->n; i++)
                free(t->v[i].name);
        free(t->v);
        strtab_done(&t->tids);
}

static int table_get(ThreadTable *t, pid_t tid, PlotThread **ret)
{
        bool fresh;
        long i;

        /* Room first: the table and the threads stay one to one whatever fails. */
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 32;
                PlotThread *v = realloc(t->v, cap * sizeof(PlotThread));
                if (!v)
                        return -ENOMEM;
                t->v = v;
                t->cap = cap;
        }
        i = strtab_intern(&t->tids, &tid, sizeof(tid), &fresh);
        if (i < 0)
                return -ENOMEM;
        if (fresh)
                t->v[t->n++] = (PlotThread){ .tid = tid, .max = 0, .last_x = NAN };
        *ret = &t->v[i];
        return 0;
}

typedef struct Row {
        double x, cpu;
        pid_t tid;
        const char *name;
} Row;

/* false: the row is skipped (counted by the caller). */
static bool parse_row(const CsvReader *r, const Columns *c, Row *row)
{
        double tid;
        int k;

        if (r->malformed || r->nfields != c->count)
                return false;
        if (csv_figure(r, c->elapsed, &row->x) < 0 || row->x < 0)
                return false;
        if (csv_figure(r, c->tid, &tid) < 0 || tid < 0 || tid > INT32_MAX || tid != floor(tid))
                return false;
        row->tid = (pid_t) tid;
        k = csv_figure(r, c->cpu, &row->cpu); /* empty: not measured, NAN */
        if (k == -EINVAL || (k == 0 && row->cpu < 0))
                return false;
        row->name = c->name >= 0 ? r->fields[c->name] : "";
        return true;
}

static int open_pass(int fd, off_t start, FILE **ret)
{
        int dfd;
        FILE *f;

        if (lseek(fd, start, SEEK_SET) < 0)
                return negative_errno();
        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return negative_errno();
        f = fdopen(dfd, "r");
        if (!f) {
                int r = negative_errno();
                close(dfd);
                return r;
        }
        *ret = f;
        return 0;
}

static int read_header(CsvReader *r, Columns *c, char **ret_error)
{
        int k = csv_reader_next(r);

        if (k < 0)
                return plot_error(ret_error, k, "Could not read the threads CSV: %s.", strerror(-k));
        if (k == 0)
                return plot_error(ret_error, -ENODATA, "The threads CSV is empty.");
        *c = (Columns){
                .elapsed = csv_column(r, "elapsed_seconds"),
                .tid = csv_column(r, "tid"),
                .name = csv_column(r, "thread_name"),
                .cpu = csv_column(r, "cpu_core_percent"),
                .count = r->nfields,
        };
        if (c->elapsed < 0 || c->tid < 0 || c->cpu < 0)
                return plot_error(ret_error, -EBADMSG,
                                  "The threads CSV has no elapsed_seconds, tid or cpu_core_percent column.");
        return 0;
}

/* Pass one: every thread's total, and its latest name. */
static int pass_totals(FILE *f, ThreadTable *t, PlotThreads *out, char **ret_error)
{
        _cleanup_(csv_reader_done) CsvReader r;
        Columns c;
        Row row;
        int k;

        csv_reader_init(&r, f);
        k = read_header(&r, &c, ret_error);
        if (k < 0)
                return k;
        while ((k = csv_reader_next(&r)) > 0) {
                PlotThread *th;

                if (csv_blank(&r))
                        continue;
                if (!parse_row(&r, &c, &row)) {
                        out->skipped++;
                        continue;
                }
                k = table_get(t, row.tid, &th);
                if (k < 0)
                        return k;
                out->rows++;
                if (row.name[0] && (!th->name || strcmp(th->name, row.name) != 0)) {
                        free(th->name);
                        th->name = strndup(row.name, 63);
                        if (!th->name)
                                return -ENOMEM;
                }
                if (isnan(row.cpu))
                        continue;
                th->sum += row.cpu;
                th->samples++;
                th->max = fmax(th->max, row.cpu);
        }
        return k < 0 ? plot_error(ret_error, k, "Could not read the threads CSV: %s.", strerror(-k)) : 0;
}

static int by_sum_desc(const void *a, const void *b)
{
        const PlotThread *x = a, *y = b;

        if (x->sum != y->sum)
                return x->sum < y->sum ? 1 : -1;
        return (x->tid > y->tid) - (x->tid < y->tid);
}

static PlotThread *find_top(PlotThreads *t, pid_t tid)
{
        for (size_t i = 0; i < t->n_top; i++)
                if (t->top[i].tid == tid)
                        return &t->top[i];
        return NULL;
}

static int push_gapped(Decimator *d, double *last_x, double x, double y, double gap)
{
        int r = 0;

        if (gap > 0 && !isnan(*last_x) && x - *last_x > gap)
                r = decimator_break(d);
        *last_x = x;
        return r < 0 ? r : decimator_push(d, x, y);
}

/* Pass two: the top threads' lines, and the others summed per sample instant. */
static int pass_lines(FILE *f, PlotThreads *t, double gap, char **ret_error)
{
        _cleanup_(csv_reader_done) CsvReader r;
        double instant = NAN, other = 0, other_last = NAN;
        Columns c;
        Row row;
        int k;

        csv_reader_init(&r, f);
        k = read_header(&r, &c, ret_error);
        if (k < 0)
                return k;
        while ((k = csv_reader_next(&r)) > 0) {
                PlotThread *th;

                if (!parse_row(&r, &c, &row))
                        continue;
                if (row.x != instant) {
                        if (!isnan(instant) && t->has_other) {
                                k = push_gapped(&t->other, &other_last, instant, other, gap);
                                if (k < 0)
                                        return k;
                        }
                        instant = row.x;
                        other = 0;
                }
                th = find_top(t, row.tid);
                if (th) {
                        k = push_gapped(&th->line, &th->last_x, row.x, row.cpu, gap);
                        if (k < 0)
                                return k;
                } else if (!isnan(row.cpu))
                        other += row.cpu;
        }
        if (k == 0 && !isnan(instant) && t->has_other)
                k = push_gapped(&t->other, &other_last, instant, other, gap);
        for (size_t i = 0; k == 0 && i < t->n_top; i++)
                k = decimator_finish(&t->top[i].line);
        if (k == 0 && t->has_other)
                k = decimator_finish(&t->other);
        return k;
}

static int select_top(ThreadTable *tab, unsigned top_k, double x0, double x1, unsigned ncols, PlotThreads *t)
{
        size_t busy = 0;

        qsort_safe(tab->v, tab->n, sizeof(PlotThread), by_sum_desc);
        while (busy < tab->n && tab->v[busy].sum > 0)
                busy++;
        t->n_threads = tab->n;
        t->n_top = busy < top_k ? busy : top_k;
        t->has_other = busy > t->n_top;
        t->top = calloc(t->n_top ? t->n_top : 1, sizeof(PlotThread));
        if (!t->top)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_top; i++) {
                t->top[i] = tab->v[i];
                tab->v[i].name = NULL; /* moved */
                t->top[i].mean = t->top[i].samples ? t->top[i].sum / t->top[i].samples : 0;
                t->top[i].last_x = NAN;
                decimator_init(&t->top[i].line, x0, x1, ncols);
        }
        decimator_init(&t->other, x0, x1, ncols);
        return 0;
}

int plot_threads_read(int fd, double x0, double x1, unsigned ncols, double gap, unsigned top_k,
                      PlotThreads *ret, char **ret_error)
{
        _cleanup_(table_done) ThreadTable tab = { 0 };
        _cleanup_fclose_ FILE *f = NULL;
        PlotThreads t = { 0 };
        off_t start;
        int k;

        start = lseek(fd, 0, SEEK_CUR);
        if (start < 0)
                return plot_error(ret_error, -ESPIPE,
                                  "The threads CSV is not a regular file; it is read twice.");
        k = open_pass(fd, start, &f);
        if (k < 0)
                return plot_error(ret_error, k, "Could not read the threads CSV: %s.", strerror(-k));
        k = pass_totals(f, &tab, &t, ret_error);
        if (k < 0)
                return k;
        if (t.rows == 0)
                return plot_error(ret_error, -ENODATA, "The threads CSV has no data rows.");
        k = select_top(&tab, top_k, x0, x1, ncols, &t);
        if (k == 0) {
                fclose(TAKE_PTR(f));
                k = open_pass(fd, start, &f);
        }
        if (k == 0)
                k = pass_lines(f, &t, gap, ret_error);
        if (k < 0) {
                plot_threads_done(&t);
                if (ret_error && !*ret_error)
                        plot_error(ret_error, k, "Could not read the threads CSV: %s.", strerror(-k));
                return k;
        }
        *ret = t;
        return 0;
}

void plot_threads_done(PlotThreads *t)
{
        for (size_t i = 0; t->top && i < t->n_top; i++) {
                free(t->top[i].name);
                decimator_done(&t->top[i].line);
        }
        free(t->top);
        decimator_done(&t->other);
        memset(t, 0, sizeof(*t));
}

int plot_thread_label(const PlotThread *t, char *buf, size_t size)
{
        int n;

        if (t->tid == 0 && t->name && t->name[0]) /* the sampler's row of threads that ended unseen */
                n = snprintf(buf, size, "%s", t->name);
        else if (t->name && t->name[0])
                n = snprintf(buf, size, "Thread %d \"%s\"", (int) t->tid, t->name);
        else
                n = snprintf(buf, size, "Thread %d", (int) t->tid);
        return n < 0 ? -EINVAL : 0; /* truncation is fine for a legend */
}
