/* SPDX-License-Identifier: MIT */
#include "plot-csv.h"
#include "format-util.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A record longer than this (a runaway quote) is given up as malformed. */
#define CSV_RECORD_MAX (64 * 1024)

int plot_error(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = error_setv(ret_error, r, fmt, ap);
        va_end(ap);
        return r;
}

void csv_reader_init(CsvReader *r, FILE *f)
{
        memset(r, 0, sizeof(*r));
        r->f = f;
        r->next_line = 1;
}

void csv_reader_done(CsvReader *r)
{
        free(r->buf);
        free(r->fields);
        r->buf = NULL;
        r->fields = NULL;
}

static int push_field(CsvReader *r, char *s)
{
        if (r->nfields == r->fields_cap) {
                size_t cap = r->fields_cap ? r->fields_cap * 2 : 16;
                char **f = realloc(r->fields, cap * sizeof(char *));
                if (!f)
                        return -ENOMEM;
                r->fields = f;
                r->fields_cap = cap;
        }
        r->fields[r->nfields++] = s;
        return 0;
}

/* Splits r->buf in place; quoted fields are unescaped where they lie. */
static int split(CsvReader *r)
{
        char *p = r->buf;
        int k;

        r->nfields = 0;
        for (;;) {
                char *start = p, *w = p;

                if (*p == '"') {
                        p++;
                        for (;;) {
                                if (*p == '\0') {
                                        r->malformed = true; /* unterminated */
                                        break;
                                }
                                if (*p == '"' && p[1] == '"') {
                                        *w++ = '"';
                                        p += 2;
                                } else if (*p == '"') {
                                        p++;
                                        break;
                                } else
                                        *w++ = *p++;
                        }
                        if (*p != ',' && *p != '\0')
                                r->malformed = true; /* text after the closing quote */
                        while (*p != ',' && *p != '\0')
                                p++;
                } else {
                        while (*p != ',' && *p != '\0')
                                p++;
                        w = p;
                }
                k = push_field(r, start);
                if (k < 0)
                        return k;
                if (*p == '\0') {
                        *w = '\0';
                        return 0;
                }
                *w = '\0';
                p++;
        }
}

static bool quotes_open(const char *s, size_t len)
{
        size_t q = 0;

        for (size_t i = 0; i < len; i++)
                q += s[i] == '"';
        return q % 2 == 1;
}

int csv_reader_next(CsvReader *r)
{
        ssize_t k;
        size_t len;

        r->malformed = false;
        r->line_no = r->next_line;
        errno = 0;
        k = getline(&r->buf, &r->cap, r->f);
        if (k < 0)
                return errno == 0 || feof(r->f) ? 0 : negative_errno();
        r->next_line++;
        len = (size_t) k;
        /* A quoted field may hold a newline: join lines until the quotes close. */
        while (quotes_open(r->buf, len) && len < CSV_RECORD_MAX) {
                char *more = NULL;
                size_t more_cap = 0;
                ssize_t m = getline(&more, &more_cap, r->f);

                if (m < 0) {
                        free(more);
                        break;
                }
                r->next_line++;
                if (len + (size_t) m + 1 > r->cap) {
                        char *b = realloc(r->buf, len + (size_t) m + 1);
                        if (!b) {
                                free(more);
                                return -ENOMEM;
                        }
                        r->buf = b;
                        r->cap = len + (size_t) m + 1;
                }
                memcpy(r->buf + len, more, (size_t) m + 1);
                len += (size_t) m;
                free(more);
        }
        if (len >= CSV_RECORD_MAX)
                r->malformed = true;
        while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r'))
                r->buf[--len] = '\0';
        if (memchr(r->buf, '\0', len))
                r->malformed = true; /* a NUL inside a line: not text */
        return split(r) < 0 ? -ENOMEM : 1;
}

static const char *trim(const char *s, size_t *ret_len)
{
        size_t n;

        while (*s == ' ' || *s == '\t')
                s++;
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        *ret_len = n;
        return s;
}

int csv_column(const CsvReader *r, const char *name)
{
        size_t want = strlen(name);

        for (size_t i = 0; i < r->nfields; i++) {
                size_t n;
                const char *s = trim(r->fields[i], &n);

                if (i == 0 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
                        s += 3; /* a UTF-8 byte-order mark */
                        n -= 3;
                }
                if (n == want && memcmp(s, name, n) == 0)
                        return (int) i;
        }
        return -1;
}

static const double pow10_exact[] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * "12.5" and its like, fast: with at most 15 significant digits and a power
 * of ten within 1e22, m / 10^k is exact before the one rounding (Clinger's
 * fast path), so this agrees with strtod. Anything else goes to strtod.
 */
int csv_parse_double(const char *s, double *ret)
{
        const char *p, *q;
        uint64_t m = 0;
        int digits = 0, frac = 0, sign = 1;
        size_t n;
        char tmp[64], *end;
        double v;

        p = trim(s, &n);
        if (n == 0)
                return -ENODATA;
        q = p + n;
        if (*p == '-' || *p == '+')
                sign = *p++ == '-' ? -1 : 1;
        for (; p < q && *p >= '0' && *p <= '9'; p++, digits++)
                m = m * 10 + (uint64_t) (*p - '0');
        if (p < q && *p == '.')
                for (p++; p < q && *p >= '0' && *p <= '9'; p++, digits++, frac++)
                        m = m * 10 + (uint64_t) (*p - '0');
        if (p == q && digits > 0 && digits <= 15 && frac <= 22) {
                *ret = sign * ((double) m / pow10_exact[frac]);
                return 0;
        }
        /* Exponents, long mantissas, "nan", "inf", junk: let strtod judge. */
        p = trim(s, &n);
        if (n >= sizeof(tmp))
                return -EINVAL;
        memcpy(tmp, p, n);
        tmp[n] = '\0';
        errno = 0;
        v = strtod(tmp, &end);
        if (end == tmp || *end != '\0' || errno == ERANGE)
                return -EINVAL;
        *ret = v;
        return 0;
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
        int k;

        if (col < 0) {
                *v = NAN;
                return true;
        }
        k = csv_parse_double(r->fields[col], v);
        if (k == -ENODATA) {
                *v = NAN;
                return true;
        }
        return k == 0 && isfinite(*v) && *v >= 0;
}

static void copy_timestamp(char *dst, size_t size, const char *s)
{
        size_t n;

        s = trim(s, &n);
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

static bool blank(const CsvReader *r)
{
        size_t n;

        return r->nfields == 1 && !r->malformed && (trim(r->fields[0], &n), n == 0);
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
        while (k > 0 && blank(&r));
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
                if (blank(&r))
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
