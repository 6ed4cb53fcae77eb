/* SPDX-License-Identifier: MIT */
#include "plot-scale.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "sort-util.h"

/* Slack for values that are a whole number of steps up to rounding. */
#define STEP_EPS 1e-9

static unsigned decimals_for(double step)
{
        double d;

        if (step >= 1.0 || step <= 0.0)
                return 0;
        d = -floor(log10(step) + STEP_EPS);
        /* 0.25 needs two digits, 0.5 one: add one while the step is not a whole number of 10^-d. */
        while (d < 12 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6)
                d++;
        return (unsigned) d;
}

/* How many multiples of step lie in [lo, hi] (or span it, with expand). */
static double count_for(double lo, double hi, double step, bool expand, double *ret_k0)
{
        double k0, k1;

        if (expand) {
                k0 = floor(lo / step + STEP_EPS);
                k1 = ceil(hi / step - STEP_EPS);
        } else {
                k0 = ceil(lo / step - STEP_EPS);
                k1 = floor(hi / step + STEP_EPS);
        }
        *ret_k0 = k0;
        return k1 - k0 + 1;
}

static void fill_ticks(double lo, double hi, double step, double k0, unsigned count, bool expand, Ticks *t)
{
        t->step = step;
        t->count = count;
        for (unsigned i = 0; i < count; i++) {
                double v = (k0 + i) * step;
                t->values[i] = v == 0.0 ? 0.0 : v; /* no "-0" labels */
        }
        t->lo = expand ? t->values[0] : lo;
        t->hi = expand ? t->values[count - 1] : hi;
        t->decimals = decimals_for(step);
}

/* Pick the smallest candidate step that gives at most max ticks. */
static int pick_step(double lo, double hi, unsigned max, bool expand, const double *cands, size_t ncands,
                     Ticks *ret)
{
        for (size_t i = 0; i < ncands; i++) {
                double k0, c = count_for(lo, hi, cands[i], expand, &k0);

                if (c >= 1 && c <= max) {
                        fill_ticks(lo, hi, cands[i], k0, (unsigned) c, expand, ret);
                        return 0;
                }
        }
        return -ERANGE;
}

static int widen(double *lo, double *hi)
{
        if (!isfinite(*lo) || !isfinite(*hi))
                return -EINVAL;
        if (*hi < *lo) {
                double x = *lo;
                *lo = *hi;
                *hi = x;
        }
        if (*hi == *lo) {
                double d = fabs(*lo) * 0.1;
                if (d == 0.0)
                        d = 1.0;
                *lo -= d;
                *hi += d;
        }
        if (!isfinite(*hi - *lo))
                return -ERANGE;
        return 0;
}

int scale_ticks(double lo, double hi, unsigned max_ticks, bool expand, Ticks *ret)
{
        double span, mag, cands[12];
        size_t n = 0;
        int r;

        if (max_ticks < 2)
                max_ticks = 2;
        if (max_ticks > SCALE_MAX_TICKS)
                max_ticks = SCALE_MAX_TICKS;
        r = widen(&lo, &hi);
        if (r < 0)
                return r;
        span = hi - lo;
        /* The right step is within a factor of ten above span / max_ticks. */
        mag = pow(10, floor(log10(span / max_ticks)));
        for (int e = 0; e < 3; e++, mag *= 10) {
                cands[n++] = 1 * mag;
                cands[n++] = 2 * mag;
                cands[n++] = 5 * mag;
        }
        cands[n++] = mag; /* 10^(e+3): a safe last resort */
        memset(ret, 0, sizeof(*ret));
        return pick_step(lo, hi, max_ticks, expand, cands, n, ret);
}

static const double steps_s[] = {
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
};
static const double steps_min[] = {
        1, 2, 5, 10, 15, 30, 60, 120, 180,
};
static const double steps_h[] = {
        0.25, 0.5, 1, 2, 3, 6, 12, 24, 48, 120, 240, 480, 1200, 2400, 4800, 12000, 24000, 48000, 120000,
};

int scale_time_ticks(double t0, double t1, unsigned max_ticks, TimeTicks *ret)
{
        const double *steps;
        double cands[32], span;
        size_t n;
        TimeTicks tt = { 0 };
        int r;

        if (max_ticks < 2)
                max_ticks = 2;
        if (max_ticks > SCALE_MAX_TICKS)
                max_ticks = SCALE_MAX_TICKS;
        r = widen(&t0, &t1);
        if (r < 0)
                return r;
        span = t1 - t0;
        if (span < 300) {
                tt.unit = TIME_UNIT_S, tt.unit_seconds = 1, steps = steps_s;
                n = sizeof(steps_s) / sizeof(steps_s[0]);
        } else if (span < 5 * 3600) {
                tt.unit = TIME_UNIT_MIN, tt.unit_seconds = 60, steps = steps_min;
                n = sizeof(steps_min) / sizeof(steps_min[0]);
        } else {
                tt.unit = TIME_UNIT_H, tt.unit_seconds = 3600, steps = steps_h;
                n = sizeof(steps_h) / sizeof(steps_h[0]);
        }
        for (size_t i = 0; i < n; i++)
                cands[i] = steps[i] * tt.unit_seconds;
        r = pick_step(t0, t1, max_ticks, false, cands, n, &tt.ticks);
        if (r < 0) {
                /* Beyond the table (sub-millisecond or centuries): plain 1-2-5 seconds. */
                r = scale_ticks(t0, t1, max_ticks, false, &tt.ticks);
                if (r < 0)
                        return r;
        }
        tt.ticks.decimals = decimals_for(tt.ticks.step / tt.unit_seconds);
        *ret = tt;
        return 0;
}

const char *time_unit_name(TimeUnit u)
{
        switch (u) {
        case TIME_UNIT_MIN:
                return "min";
        case TIME_UNIT_H:
                return "h";
        default:
                return "s";
        }
}

int scale_format_tick(const Ticks *t, double v, double divisor, char *buf, size_t size)
{
        double top = fmax(fabs(t->lo), fabs(t->hi)) / divisor;
        int n;

        v /= divisor;
        if (fabs(v) < t->step / divisor * 1e-6)
                v = 0.0;
        if (top >= 1e7 || (t->step / divisor < 1e-4 && v != 0.0))
                n = snprintf(buf, size, "%.4g", v);
        else
                n = snprintf(buf, size, "%.*f", (int) t->decimals, v);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

int scale_gap_threshold(const double *t, size_t n, double *ret)
{
        double *iv;
        size_t m = 0;

        if (n < 3) {
                *ret = 0;
                return 0;
        }
        iv = malloc((n - 1) * sizeof(double));
        if (!iv)
                return -ENOMEM;
        for (size_t i = 1; i < n; i++)
                if (isfinite(t[i] - t[i - 1]) && t[i] - t[i - 1] > 0)
                        iv[m++] = t[i] - t[i - 1];
        if (m == 0) {
                free(iv);
                *ret = 0;
                return 0;
        }
        /* qsort is plenty: 86,400 doubles sort in a few milliseconds. */
        qsort_safe(iv, m, sizeof(double), cmp_double);
        *ret = 1.75 * iv[m / 2];
        free(iv);
        return 0;
}

int scale_mean_max(const float *y, size_t n, double *ret_mean, double *ret_max, size_t *ret_argmax)
{
        double sum = 0, max = -INFINITY;
        size_t k = 0, arg = 0;

        for (size_t i = 0; i < n; i++) {
                if (!isfinite(y[i]))
                        continue;
                sum += y[i];
                k++;
                if (y[i] > max) {
                        max = y[i];
                        arg = i;
                }
        }
        if (k == 0)
                return -ENODATA;
        if (ret_mean)
                *ret_mean = sum / k;
        if (ret_max)
                *ret_max = max;
        if (ret_argmax)
                *ret_argmax = arg;
        return 0;
}

void decimator_init(Decimator *d, double x0, double x1, unsigned ncols)
{
        double span = x1 - x0;

        memset(d, 0, sizeof(*d));
        d->x0 = x0;
        d->cols_per_x = (span > 0 && isfinite(span)) ? (ncols ? ncols : 1) / span : 0;
        d->col = LONG_MIN;
}

long decimator_column(const Decimator *d, double x)
{
        double c = floor((x - d->x0) * d->cols_per_x);

        if (c <= (double) (LONG_MIN + 1))
                return LONG_MIN + 1;
        if (c >= (double) LONG_MAX)
                return LONG_MAX;
        return (long) c;
}

static int emit(Decimator *d, PlotPoint p)
{
        if (GREEDY_GROW(d->out, d->cap, d->n + 1, 256) < 0)
                return -ENOMEM;
        d->out[d->n++] = p;
        return 0;
}

static int flush_column(Decimator *d)
{
        PlotPoint p[4] = { d->first, d->lo, d->hi, d->last };
        int r;

        if (d->col == LONG_MIN)
                return 0;
        d->col = LONG_MIN;
        if (d->count == 1)
                return emit(d, d->first);
        /* Four points into x order (stable), then drop repeats. */
        for (int i = 1; i < 4; i++)
                for (int j = i; j > 0 && p[j].x < p[j - 1].x; j--) {
                        PlotPoint s = p[j];
                        p[j] = p[j - 1];
                        p[j - 1] = s;
                }
        for (int i = 0; i < 4; i++) {
                if (i > 0 && p[i].x == p[i - 1].x && p[i].y == p[i - 1].y)
                        continue;
                r = emit(d, p[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int decimator_break(Decimator *d)
{
        if (d->col != LONG_MIN || d->n > 0)
                d->broken = true;
        return 0;
}

int decimator_push(Decimator *d, double x, double y)
{
        PlotPoint p = { x, y };
        long c;
        int r;

        if (!isfinite(x))
                return -EINVAL;
        if (!isfinite(y))
                return decimator_break(d);
        c = decimator_column(d, x);
        if (d->broken || c != d->col) {
                r = flush_column(d);
                if (r < 0)
                        return r;
                if (d->broken) {
                        if (d->n > 0 && !isnan(d->out[d->n - 1].y)) {
                                r = emit(d, (PlotPoint){ x, NAN });
                                if (r < 0)
                                        return r;
                        }
                        d->broken = false;
                }
                d->col = c;
                d->first = d->lo = d->hi = d->last = p;
                d->count = 1;
                return 0;
        }
        if (y < d->lo.y)
                d->lo = p;
        if (y > d->hi.y)
                d->hi = p;
        d->last = p;
        d->count++;
        return 0;
}

int decimator_finish(Decimator *d)
{
        int r = flush_column(d);

        if (r < 0)
                return r;
        while (d->n > 0 && isnan(d->out[d->n - 1].y))
                d->n--;
        d->broken = false;
        return 0;
}

void decimator_done(Decimator *d)
{
        free(d->out);
        d->out = NULL;
        d->n = d->cap = 0;
}

void scale_spread_labels(double *y, size_t n, double min_gap, double lo, double hi)
{
        size_t idx[16];

        if (n == 0 || n > 16)
                return;
        for (size_t i = 0; i < n; i++)
                idx[i] = i;
        /* Insertion sort of the indices by y: n is a handful. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && y[idx[j]] < y[idx[j - 1]]; j--) {
                        size_t s = idx[j];
                        idx[j] = idx[j - 1];
                        idx[j - 1] = s;
                }
        /* Push down past each neighbour, then back up from the bottom edge. */
        for (size_t i = 1; i < n; i++)
                if (y[idx[i]] < y[idx[i - 1]] + min_gap)
                        y[idx[i]] = y[idx[i - 1]] + min_gap;
        if (y[idx[n - 1]] > hi) {
                y[idx[n - 1]] = hi;
                for (size_t i = n - 1; i > 0; i--)
                        if (y[idx[i - 1]] > y[idx[i]] - min_gap)
                                y[idx[i - 1]] = y[idx[i]] - min_gap;
        }
        if (y[idx[0]] < lo) {
                y[idx[0]] = lo;
                for (size_t i = 1; i < n; i++)
                        if (y[idx[i]] < y[idx[i - 1]] + min_gap)
                                y[idx[i]] = y[idx[i - 1]] + min_gap;
        }
}

void scale_place_labels(const double *left, const double *width, size_t n, unsigned nrows, double pad,
                        int *ret_row)
{
        double edge[8];

        if (nrows > 8)
                nrows = 8;
        for (unsigned r = 0; r < nrows; r++)
                edge[r] = -INFINITY;
        for (size_t i = 0; i < n; i++) {
                ret_row[i] = -1;
                for (unsigned r = 0; r < nrows; r++)
                        if (left[i] >= edge[r] + pad) {
                                edge[r] = left[i] + width[i];
                                ret_row[i] = (int) r;
                                break;
                        }
        }
}
