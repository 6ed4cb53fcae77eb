/* SPDX-License-Identifier: MIT */
/*
 * The shape of memory over a session (mem-trend.h). The figures:
 *
 *  - the level at each end: the median of a tenth of the rows (two at
 *    least), so one row out of line moves neither;
 *  - the scatter: from the second differences of consecutive rows, which a
 *    straight line leaves at 0 and a single step touches in two places only
 *    (1.4826 x their median absolute value / sqrt(6), at least 0.005 MB,
 *    the CSV's resolution);
 *  - a least-squares line with its standard error, and one per half;
 *  - the largest rise within a window of 5 % of the rows (two at least);
 *  - when the memory last was below its end level by more than a tenth of
 *    the rise: flat from then on.
 */
#include "mem-trend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sort-util.h"

#define MIN_ROWS 8
#define MIN_SECONDS 5.0
#define SIGNIFICANT_MB 1.0     /* a rise smaller than this is never a trend... */
#define SIGNIFICANT_SHARE 0.01 /* ...nor one under 1 % of RSS... */
#define SIGNIFICANT_NOISE 10.0 /* ...nor under ten times the scatter */
#define STEADY_R2 0.9
#define STEP_SHARE 0.6
#define FLAT_TAIL 0.25
#define SLOWED 0.35
#define SAW_FALLS 0.33

typedef struct Fit {
        double slope, se, r2;
        double at0; /* the line's y at x = 0 */
        size_t n;
} Fit;

/* Least squares of y (MB) on x (hours). */
static Fit fit(const double *x, const double *y, size_t n)
{
        double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, mx, my, rss;
        Fit f = { .slope = NAN, .se = NAN, .r2 = NAN, .at0 = NAN, .n = n };

        if (n < 3)
                return f;
        for (size_t i = 0; i < n; i++) {
                sx += x[i];
                sy += y[i];
        }
        mx = sx / (double) n;
        my = sy / (double) n;
        for (size_t i = 0; i < n; i++) {
                sxx += (x[i] - mx) * (x[i] - mx);
                sxy += (x[i] - mx) * (y[i] - my);
                syy += (y[i] - my) * (y[i] - my);
        }
        if (sxx <= 0)
                return f;
        f.slope = sxy / sxx;
        f.at0 = my - f.slope * mx;
        rss = syy - f.slope * sxy;
        f.se = sqrt(fmax(rss, 0) / (double) (n - 2) / sxx);
        f.r2 = syy > 0 ? 1 - rss / syy : 0;
        return f;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

/* The median of v[0..n), using scratch. */
static double median(const double *v, size_t n, double *scratch)
{
        if (n == 0)
                return NAN;
        memcpy(scratch, v, n * sizeof(double));
        qsort_safe(scratch, n, sizeof(double), cmp_double);
        return n % 2 ? scratch[n / 2] : (scratch[n / 2 - 1] + scratch[n / 2]) / 2;
}

double mem_trend_line_at(const MemTrend *m, double t)
{
        return m->line_mb0 + m->slope * t / 3600;
}

const char *mem_shape_name(MemShape s)
{
        static const char *const names[] = {
                [MEM_TOO_SHORT] = "too short", [MEM_STABLE] = "stable",     [MEM_LEAK] = "leak",
                [MEM_GROWING] = "growing",     [MEM_WARMUP] = "warm-up",    [MEM_PLATEAU] = "plateau",
                [MEM_STEP] = "step",           [MEM_SAWTOOTH] = "sawtooth",
        };

        return s <= MEM_SAWTOOTH ? names[s] : "?";
}

/* The longest stretch of rows with one pid: [*a, *b). */
static void longest_stretch(const int32_t *pid, size_t n, size_t *ret_a, size_t *ret_b)
{
        size_t a = 0, best_a = 0, best_b = 0;

        for (size_t i = 1; i <= n; i++)
                if (i == n || (pid && pid[i] != pid[a])) {
                        if (i - a > best_b - best_a) {
                                best_a = a;
                                best_b = i;
                        }
                        a = i;
                }
        *ret_a = best_a;
        *ret_b = best_b;
}

/* Everything but the verdict, over the k rows (x in hours, y in MB, s in seconds). */
static void measure(MemTrend *r, const double *s, const double *x, const double *y, size_t k,
                    double *scratch)
{
        size_t tenth = k / 10 > 2 ? k / 10 : 2, w = (size_t) ceil(0.05 * (double) k), half = k / 2, last = 0;
        double sum = 0, thr;
        Fit all = fit(x, y, k), a = fit(x, y, half), b = fit(x + half, y + half, k - half);

        if (w < 2)
                w = 2;
        r->start_mb = median(y, tenth, scratch);
        r->end_mb = median(y + k - tenth, tenth, scratch);
        r->rise_mb = r->end_mb - r->start_mb;
        r->slope = all.slope;
        r->line_mb0 = all.at0;
        r->ci95 = 1.96 * all.se;
        r->r2 = all.r2;
        r->first_half = a.slope;
        r->second_half = b.slope;
        for (size_t i = 1; i + 1 < k; i++)
                scratch[i - 1] = fabs(y[i + 1] - 2 * y[i] + y[i - 1]);
        {
                double *tmp = scratch + k;
                r->noise_mb = fmax(0.005, 1.4826 * median(scratch, k - 2, tmp) / sqrt(6));
        }
        for (size_t i = 0; i < k; i++)
                sum += y[i];
        r->significant_mb = fmax(fmax(SIGNIFICANT_MB, SIGNIFICANT_SHARE * sum / (double) k),
                                 SIGNIFICANT_NOISE * r->noise_mb);
        r->step_mb = -INFINITY;
        for (size_t i = 0; i + w < k; i++)
                if (y[i + w] - y[i] > r->step_mb) {
                        r->step_mb = y[i + w] - y[i];
                        r->step_t0 = s[i];
                        r->step_t1 = s[i + w];
                }
        thr = fmax(3 * r->noise_mb, 0.02);
        r->falls_mb = 0;
        for (size_t i = 0; i + 1 < k; i++)
                if (y[i + 1] - y[i] < -thr)
                        r->falls_mb += y[i] - y[i + 1];
        /* Flat from the row after the last one below the end level by more than a tenth of the rise. */
        for (size_t i = 0; i < k; i++)
                if (y[i] < r->end_mb - fmax(2 * r->noise_mb, 0.1 * r->rise_mb))
                        last = i + 1;
        r->flat_from = last > 0 && last < k ? s[last] : NAN;
}

/* Drops of at least min MB, each a run of falling rows summed. */
static size_t big_falls(const double *y, size_t k, double thr, double min)
{
        size_t n = 0;
        double drop = 0;

        for (size_t i = 0; i + 1 <= k; i++) {
                bool f = i + 1 < k && y[i + 1] - y[i] < -thr;
                if (f)
                        drop += y[i] - y[i + 1];
                else {
                        n += drop >= min;
                        drop = 0;
                }
        }
        return n;
}

static MemShape judge(const MemTrend *r, const double *s, const double *y, size_t k)
{
        double span = r->t1 - r->t0, rises = 0, lo = INFINITY, hi = -INFINITY;
        bool stopped;

        for (size_t i = 0; i < k; i++) {
                lo = fmin(lo, y[i]);
                hi = fmax(hi, y[i]);
                if (i + 1 < k && y[i + 1] - y[i] > fmax(3 * r->noise_mb, 0.02))
                        rises += y[i + 1] - y[i];
        }
        /* A sawtooth as tall as a trend would be, falling back by half of that at a time, twice or more:
         * smaller teeth are the scatter, or a ripple on a line. */
        if (hi - lo >= r->significant_mb && r->falls_mb >= SAW_FALLS * rises &&
            big_falls(y, k, fmax(3 * r->noise_mb, 0.02), 0.5 * r->significant_mb) >= 2)
                return MEM_SAWTOOTH;
        if (!(r->rise_mb >= r->significant_mb))
                return MEM_STABLE;
        if (r->step_mb >= STEP_SHARE * r->rise_mb)
                return MEM_STEP;
        stopped = (isfinite(r->flat_from) && r->t1 - r->flat_from >= FLAT_TAIL * span) ||
                (r->first_half > 0 && r->second_half <= SLOWED * r->first_half);
        if (stopped) {
                /* From the start when half the rise is there within the first 40 % of the rows' time. */
                for (size_t i = 0; i < k; i++)
                        if (y[i] >= r->start_mb + 0.5 * r->rise_mb)
                                return s[i] - r->t0 <= 0.4 * span ? MEM_WARMUP : MEM_PLATEAU;
                return MEM_PLATEAU;
        }
        if (r->r2 >= STEADY_R2 && r->slope - r->ci95 > 0 && r->second_half >= 0.5 * r->slope)
                return MEM_LEAK;
        return MEM_GROWING;
}

/* A trend with nothing measured yet: too short, every figure unknown. */
static const MemTrend trend_unknown = { .shape = MEM_TOO_SHORT,
                                        .t0 = NAN,
                                        .t1 = NAN,
                                        .first_mb = NAN,
                                        .last_mb = NAN,
                                        .start_mb = NAN,
                                        .end_mb = NAN,
                                        .rise_mb = NAN,
                                        .noise_mb = NAN,
                                        .significant_mb = NAN,
                                        .slope = NAN,
                                        .line_mb0 = NAN,
                                        .ci95 = NAN,
                                        .r2 = NAN,
                                        .first_half = NAN,
                                        .second_half = NAN,
                                        .step_mb = NAN,
                                        .step_t0 = NAN,
                                        .step_t1 = NAN,
                                        .flat_from = NAN,
                                        .falls_mb = NAN };

/* Rows [a, b) with a finite time and memory into s (seconds), x (hours) and y (MB); returns how many. */
static size_t finite_rows(const double *t, const float *mem, size_t a, size_t b, double *s, double *x,
                          double *y)
{
        size_t k = 0;

        for (size_t i = a; i < b; i++)
                if (isfinite(mem[i]) && isfinite(t[i])) {
                        s[k] = t[i];
                        x[k] = t[i] / 3600;
                        y[k] = mem[i];
                        k++;
                }
        return k;
}

void mem_trend_judge(const double *t, const float *mem, const int32_t *pid, size_t n, MemTrend *ret)
{
        MemTrend r = trend_unknown;
        double *s = NULL, *x = NULL, *y = NULL, *scratch = NULL;
        size_t k = 0;

        longest_stretch(pid, n, &r.first, &r.end);
        r.whole = r.first == 0 && r.end == n;
        r.pid = pid && n ? pid[r.first] : 0;
        if (r.end > r.first) {
                size_t m = r.end - r.first;
                s = malloc(m * sizeof(double));
                x = malloc(m * sizeof(double));
                y = malloc(m * sizeof(double));
                scratch = malloc(2 * (m + 2) * sizeof(double));
        }
        if (s && x && y && scratch)
                k = finite_rows(t, mem, r.first, r.end, s, x, y);
        r.rows = k;
        if (k > 0) {
                r.t0 = s[0];
                r.t1 = s[k - 1];
                r.first_mb = y[0];
                r.last_mb = y[k - 1];
        }
        if (k >= MIN_ROWS && r.t1 - r.t0 >= MIN_SECONDS) {
                measure(&r, s, x, y, k, scratch);
                r.shape = judge(&r, s, y, k);
                if (r.shape == MEM_LEAK)
                        r.confidence = r.r2 >= 0.97 && k >= 20 &&
                                        fabs(r.first_half - r.second_half) <= 0.3 * r.slope
                                ? "high"
                                : "medium";
        } else if (k > 0) {
                r.start_mb = y[0];
                r.end_mb = y[k - 1];
        }
        free(s);
        free(x);
        free(y);
        free(scratch);
        *ret = r;
}

/* The words for growth that stopped (flat to the end) or is stopping (slower in the second half). */
static void describe_stopping(const MemTrend *m, char *buf, size_t size)
{
        double span = m->t1 - m->t0;

        if (isfinite(m->flat_from) && m->t1 - m->flat_from >= FLAT_TAIL * span)
                snprintf(buf, size,
                         "%s: +%.1f MB, then flat from %.0f s to the end (%.0f s): growth that stopped, "
                         "as caches and pools fill; not a leak",
                         m->shape == MEM_WARMUP ? "a warm-up" : "a plateau", m->rise_mb, m->flat_from,
                         m->t1 - m->flat_from);
        else
                snprintf(buf, size,
                         "%s: +%.1f MB, slowing down (%+.1f MB per hour in the second half against %+.1f "
                         "in the first): growth that stops, as caches and pools fill; not a leak at this "
                         "length",
                         m->shape == MEM_WARMUP ? "a warm-up" : "a plateau", m->rise_mb, m->second_half,
                         m->first_half);
}

void mem_trend_describe(const MemTrend *m, char *buf, size_t size)
{
        double span = m->t1 - m->t0;

        switch (m->shape) {
        case MEM_TOO_SHORT:
                snprintf(buf, size,
                         "too short to judge: %zu rows over %.0f s with one pid (8 rows and 5 s needed)",
                         m->rows, isfinite(span) ? span : 0);
                break;
        case MEM_STABLE:
                snprintf(
                        buf, size,
                        "stable: %+.2f MB from start to end over %.0f s, less than the %.1f MB a trend needs",
                        m->rise_mb, span, m->significant_mb);
                break;
        case MEM_LEAK:
                snprintf(
                        buf, size,
                        "a leak: +%.1f MB in %.0f s, steadily (a straight line explains %.0f%% of it): %+.1f MB per "
                        "hour, 95%% interval %+.1f to %+.1f, %s confidence",
                        m->last_mb - m->first_mb, span, 100 * m->r2, m->slope, m->slope - m->ci95,
                        m->slope + m->ci95, m->confidence);
                break;
        case MEM_GROWING:
                snprintf(
                        buf, size,
                        "growing: +%.1f MB in %.0f s and still rising at the end, but not steadily (a straight line "
                        "explains %.0f%% of it): no rate can be put on it; a longer session will tell",
                        m->rise_mb, span, 100 * m->r2);
                break;
        case MEM_WARMUP:
        case MEM_PLATEAU:
                describe_stopping(m, buf, size);
                break;
        case MEM_STEP:
                snprintf(
                        buf, size,
                        "a step: +%.1f MB of the %.1f MB rise between %.1f s and %.1f s (threads started, a batch "
                        "loaded, a cache filled at once); not a leak",
                        m->step_mb, m->rise_mb, m->step_t0, m->step_t1);
                break;
        case MEM_SAWTOOTH:
                snprintf(
                        buf, size,
                        "a sawtooth: it fell back by %.1f MB in all, in two drops or more (a collector, a bounded "
                        "cache); no trend",
                        m->falls_mb);
                break;
        }
}
