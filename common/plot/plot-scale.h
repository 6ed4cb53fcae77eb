/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The numbers behind a plot, with no drawing in them (after rrdtool's axis
 * tables and intel-gpu-tools' chart.c): 1-2-5 ticks, time-axis units, the
 * value-to-pixel map, gap detection and min/max decimation. Everything here
 * is pure and unit-tested; plot-render.c only turns its answers into paths.
 */

#include <stdbool.h>
#include <stddef.h>

#define SCALE_MAX_TICKS 32

/* Ticks on an axis: values[i] = first + i * step, all inside [lo, hi]. */
typedef struct Ticks {
        double lo, hi; /* the axis limits, widened to whole steps when asked */
        double step;
        unsigned count;
        double values[SCALE_MAX_TICKS];
        unsigned decimals; /* digits after the point that tell the labels apart */
} Ticks;

/*
 * 1-2-5 ticks for [lo, hi] with at most max_ticks of them (2..SCALE_MAX_TICKS).
 * With expand, lo and hi move out to the nearest multiples of the step, as
 * a plotting library's autoscale does. A zero or inverted span is widened
 * first (constant data still gets an axis). -EINVAL on non-finite input.
 */
int scale_ticks(double lo, double hi, unsigned max_ticks, bool expand, Ticks *ret);

/* The time axis: seconds in, labels in one unit chosen by the span. */
typedef enum TimeUnit {
        TIME_UNIT_S,
        TIME_UNIT_MIN,
        TIME_UNIT_H,
} TimeUnit;

typedef struct TimeTicks {
        TimeUnit unit;
        double unit_seconds; /* 1, 60 or 3600 */
        Ticks ticks;         /* in seconds; labels divide by unit_seconds */
} TimeTicks;

/*
 * Ticks for [t0, t1] seconds: s below 5 min of span, min below 5 h, h above;
 * steps are those a clock has (1, 2, 5, 10, 15, 30 s or min; 1/4, 1/2, 1, 2,
 * 3, 6, 12, 24 h; 1-2-5 below a second, days in 1-2-5 beyond).
 */
int scale_time_ticks(double t0, double t1, unsigned max_ticks, TimeTicks *ret);
const char *time_unit_name(TimeUnit u); /* "s", "min", "h" */

/* Label text for one tick value: "%.*f" with ticks->decimals, or %g for huge or tiny. */
int scale_format_tick(const Ticks *t, double v, double divisor, char *buf, size_t size);

/* A value-to-pixel map; p0 may be greater than p1 (y grows down). */
typedef struct Scale {
        double d0, d1;
        double p0, p1;
} Scale;

static inline double scale_map(const Scale *s, double v)
{
        return s->p0 + (v - s->d0) * (s->p1 - s->p0) / (s->d1 - s->d0);
}

/*
 * A sampling interval much longer than the usual one means the target was
 * not there: threshold = 1.75 x the median interval (0 when fewer than two
 * intervals). Allocates a scratch copy of the n-1 intervals.
 */
int scale_gap_threshold(const double *t, size_t n, double *ret);

/* Mean and maximum of the finite values; -ENODATA when there are none. */
int scale_mean_max(const float *y, size_t n, double *ret_mean, double *ret_max, size_t *ret_argmax);

/*
 * Min/max decimation (M4): points pushed in x order are reduced to at most
 * four per pixel column — the first, the lowest, the highest and the last,
 * in x order — so every spike survives and a line through them draws the
 * same pixels as one through all the points. A point with y = NAN, or
 * decimator_break(), ends the current line: the output then holds a NAN
 * point, and the next point starts a new line.
 */
typedef struct PlotPoint {
        double x, y;
} PlotPoint;

typedef struct Decimator {
        double x0, cols_per_x;
        long col; /* current column; LONG_MIN when none is open */
        PlotPoint first, lo, hi, last;
        unsigned count; /* points in the open column */
        bool broken;    /* a break is pending */
        PlotPoint *out;
        size_t n, cap;
} Decimator;

/* Columns of width (x1 - x0) / ncols starting at x0; ncols >= 1. */
void decimator_init(Decimator *d, double x0, double x1, unsigned ncols);
int decimator_push(Decimator *d, double x, double y);
int decimator_break(Decimator *d);
/* Flushes the open column; d->out, d->n are then the result (NANs mark breaks). */
int decimator_finish(Decimator *d);
void decimator_done(Decimator *d);

/* The x of the column a value falls in, for tests: floor((x - x0) * cols_per_x). */
long decimator_column(const Decimator *d, double x);

/*
 * Direct labels at the right of a panel: move the centres y[0..n) (any
 * order) apart to at least min_gap, keeping them inside [lo, hi] where
 * they fit, each as close to where it was as it can stay.
 */
void scale_spread_labels(double *y, size_t n, double min_gap, double lo, double hi);

/*
 * Labels along the x axis, left to right ([left[i], left[i] + width[i]],
 * sorted by left): each gets the first of nrows rows where it clears the
 * last label by pad, or -1 when none has room (the marker is still drawn).
 */
void scale_place_labels(const double *left, const double *width, size_t n, unsigned nrows, double pad,
                        int *ret_row);
