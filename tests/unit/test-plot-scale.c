/* SPDX-License-Identifier: MIT */
/* The plot's numbers: 1-2-5 ticks, time units, decimation, gaps, label placement. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot-scale.h"

static void assert_ticks(const Ticks *t, double first, double step, unsigned count)
{
        assert_float_equal(t->step, step, step * 1e-9);
        assert_int_equal(t->count, count);
        assert_float_equal(t->values[0], first, step * 1e-9);
        for (unsigned i = 1; i < t->count; i++)
                assert_float_equal(t->values[i] - t->values[i - 1], step, step * 1e-6);
}

static void test_ticks_125(void **state)
{
        Ticks t;

        assert_int_equal(scale_ticks(0, 100, 6, false, &t), 0);
        assert_ticks(&t, 0, 20, 6);
        assert_int_equal(scale_ticks(0, 100, 11, false, &t), 0);
        assert_ticks(&t, 0, 10, 11);
        assert_int_equal(scale_ticks(0, 1, 6, false, &t), 0);
        assert_ticks(&t, 0, 0.2, 6);
        assert_int_equal(t.decimals, 1);
        assert_int_equal(scale_ticks(0, 0.07, 8, false, &t), 0);
        assert_ticks(&t, 0, 0.01, 8);
        assert_int_equal(t.decimals, 2);
        /* Steps are only ever 1, 2 or 5 times a power of ten. */
        for (double hi = 0.013; hi < 1e7; hi *= 1.37) {
                double m;
                assert_int_equal(scale_ticks(0, hi, 7, false, &t), 0);
                assert_true(t.count >= 2 && t.count <= 7);
                m = t.step / pow(10, floor(log10(t.step) + 1e-9));
                assert_true(fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6);
        }
}

static void test_ticks_expand(void **state)
{
        Ticks t;

        /* 0..42.2 widens to 0..50 in steps of 10, as a plotting library's autoscale does. */
        assert_int_equal(scale_ticks(0, 42.2, 8, true, &t), 0);
        assert_float_equal(t.lo, 0, 1e-12);
        assert_float_equal(t.hi, 50, 1e-9);
        assert_ticks(&t, 0, 10, 6);
        /* Memory: 181.9..183.1 -> 181.5..183.5 or so, ticks inside, covering the data. */
        assert_int_equal(scale_ticks(181.9, 183.1, 6, true, &t), 0);
        assert_true(t.lo <= 181.9 && t.hi >= 183.1);
        assert_true(t.count <= 6);
}

static void test_ticks_degenerate(void **state)
{
        Ticks t;
        char buf[32];

        /* Constant data still gets an axis around the value. */
        assert_int_equal(scale_ticks(2, 2, 6, true, &t), 0);
        assert_true(t.lo < 2 && t.hi > 2);
        assert_int_equal(scale_ticks(0, 0, 6, true, &t), 0);
        assert_true(t.lo < 0 && t.hi > 0);
        /* Inverted input is swapped. */
        assert_int_equal(scale_ticks(10, 0, 6, false, &t), 0);
        assert_float_equal(t.values[0], 0, 1e-12);
        /* Huge values: ticks exist and labels use an exponent. */
        assert_int_equal(scale_ticks(0, 1e12, 6, true, &t), 0);
        assert_ticks(&t, 0, 2e11, 6);
        assert_int_equal(scale_format_tick(&t, t.values[1], 1, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "2e+11");
        assert_int_equal(scale_ticks(0, 1e308, 6, true, &t), 0);
        assert_int_equal(scale_ticks(0, NAN, 6, true, &t), -EINVAL);
        assert_int_equal(scale_ticks(0, INFINITY, 6, true, &t), -EINVAL);
        assert_int_equal(scale_ticks(-1.7e308, 1.7e308, 6, true, &t), -ERANGE);
}

static void test_format_tick(void **state)
{
        Ticks t;
        char buf[32];

        assert_int_equal(scale_ticks(0, 1, 6, false, &t), 0);
        scale_format_tick(&t, t.values[3], 1, buf, sizeof(buf));
        assert_string_equal(buf, "0.6");
        scale_format_tick(&t, t.values[0], 1, buf, sizeof(buf));
        assert_string_equal(buf, "0.0");
        assert_int_equal(scale_ticks(-1, 1, 5, false, &t), 0);
        scale_format_tick(&t, t.values[2], 1, buf, sizeof(buf));
        assert_string_equal(buf, "0.0"); /* never "-0.0" */
        assert_int_equal(scale_ticks(0, 1, 6, false, &t), 0);
        assert_int_equal(scale_format_tick(&t, 0.5, 1, buf, 2), -ENOBUFS);
}

static void test_time_units(void **state)
{
        TimeTicks tt;
        char buf[32];

        /* 60 s at 1 Hz: seconds, 10 s apart. */
        assert_int_equal(scale_time_ticks(0, 60, 8, &tt), 0);
        assert_int_equal(tt.unit, TIME_UNIT_S);
        assert_string_equal(time_unit_name(tt.unit), "s");
        assert_float_equal(tt.ticks.step, 10, 1e-9);
        /* Ten minutes: minutes, 2 min apart, labelled "2", "4". */
        assert_int_equal(scale_time_ticks(0, 600, 8, &tt), 0);
        assert_int_equal(tt.unit, TIME_UNIT_MIN);
        assert_float_equal(tt.ticks.step, 120, 1e-9);
        scale_format_tick(&tt.ticks, tt.ticks.values[1], tt.unit_seconds, buf, sizeof(buf));
        assert_string_equal(buf, "2");
        /* An hour: minutes in clock steps (10 or 15, never 20-odd). */
        assert_int_equal(scale_time_ticks(0, 3600, 8, &tt), 0);
        assert_int_equal(tt.unit, TIME_UNIT_MIN);
        assert_true(tt.ticks.step == 600 || tt.ticks.step == 900);
        /* A day: hours, 6 apart with 8 ticks (4 is not a clock step). */
        assert_int_equal(scale_time_ticks(0, 86400, 8, &tt), 0);
        assert_int_equal(tt.unit, TIME_UNIT_H);
        assert_float_equal(tt.ticks.step, 6 * 3600, 1e-9);
        scale_format_tick(&tt.ticks, tt.ticks.values[1], tt.unit_seconds, buf, sizeof(buf));
        assert_string_equal(buf, "6");
        /* A week: days' worth of hours. */
        assert_int_equal(scale_time_ticks(0, 7 * 86400, 8, &tt), 0);
        assert_float_equal(tt.ticks.step, 24 * 3600, 1e-9);
        /* Under a second: 1-2-5 fractions of a second. */
        assert_int_equal(scale_time_ticks(0, 0.9, 6, &tt), 0);
        assert_int_equal(tt.unit, TIME_UNIT_S);
        assert_float_equal(tt.ticks.step, 0.2, 1e-12);
        assert_int_equal(tt.ticks.decimals, 1);
        /* Five hours and more: hours. */
        assert_int_equal(scale_time_ticks(0, 5 * 3600, 8, &tt), 0);
        assert_int_equal(tt.unit, TIME_UNIT_H);
        /* Ticks never leave the span. */
        assert_int_equal(scale_time_ticks(13, 1000, 10, &tt), 0);
        assert_true(tt.ticks.values[0] >= 13 && tt.ticks.values[tt.ticks.count - 1] <= 1000);
}

static void test_gap_threshold(void **state)
{
        double t[] = { 0, 1, 2.01, 3, 4, 30, 31, 32 }, g;

        assert_int_equal(scale_gap_threshold(t, sizeof(t) / sizeof(t[0]), &g), 0);
        assert_float_equal(g, 1.75, 0.02);
        assert_int_equal(scale_gap_threshold(t, 2, &g), 0);
        assert_float_equal(g, 0, 0);
        {
                double same[] = { 5, 5, 5, 5 };
                assert_int_equal(scale_gap_threshold(same, 4, &g), 0);
                assert_float_equal(g, 0, 0);
        }
}

static void test_mean_max(void **state)
{
        float y[] = { 1, NAN, 3, 8, 2 };
        double mean, max;
        size_t arg;

        assert_int_equal(scale_mean_max(y, 5, &mean, &max, &arg), 0);
        assert_float_equal(mean, 3.5, 1e-9);
        assert_float_equal(max, 8, 0);
        assert_int_equal(arg, 3);
        {
                float none[] = { NAN, NAN };
                assert_int_equal(scale_mean_max(none, 2, &mean, &max, &arg), -ENODATA);
        }
}

/* 100,000 points into 100 columns: every column keeps its min and max. */
static void test_decimate_keeps_extremes(void **state)
{
        enum { N = 100000, COLS = 100 };
        double *x = malloc(N * sizeof(double)), *y = malloc(N * sizeof(double));
        double lo[COLS], hi[COLS];
        Decimator d;
        unsigned seed = 7;

        for (int c = 0; c < COLS; c++)
                lo[c] = INFINITY, hi[c] = -INFINITY;
        decimator_init(&d, 0, N, COLS);
        for (int i = 0; i < N; i++) {
                long c;
                x[i] = i;
                y[i] = (rand_r(&seed) % 1000) + (i == 54321 ? 1e6 : 0); /* one spike */
                c = decimator_column(&d, x[i]);
                lo[c] = fmin(lo[c], y[i]);
                hi[c] = fmax(hi[c], y[i]);
                assert_int_equal(decimator_push(&d, x[i], y[i]), 0);
        }
        assert_int_equal(decimator_finish(&d), 0);
        assert_true(d.n <= 4 * COLS);
        for (int c = 0; c < COLS; c++) {
                double mn = INFINITY, mx = -INFINITY;
                for (size_t k = 0; k < d.n; k++)
                        if (decimator_column(&d, d.out[k].x) == c) {
                                mn = fmin(mn, d.out[k].y);
                                mx = fmax(mx, d.out[k].y);
                        }
                assert_float_equal(mn, lo[c], 0);
                assert_float_equal(mx, hi[c], 0);
        }
        /* In x order, so a line through them is the line through all. */
        for (size_t k = 1; k < d.n; k++)
                assert_true(d.out[k].x >= d.out[k - 1].x);
        decimator_done(&d);
        free(x);
        free(y);
}

static void test_decimate_sparse_and_breaks(void **state)
{
        Decimator d;
        size_t nans = 0;

        /* Fewer points than columns: all kept as they are. */
        decimator_init(&d, 0, 10, 1000);
        for (int i = 0; i <= 10; i++)
                assert_int_equal(decimator_push(&d, i, i * 2), 0);
        assert_int_equal(decimator_finish(&d), 0);
        assert_int_equal(d.n, 11);
        assert_float_equal(d.out[5].y, 10, 0);
        decimator_done(&d);

        /* A break (or a NAN) ends the line: one NAN between, none at the ends. */
        decimator_init(&d, 0, 10, 1000);
        assert_int_equal(decimator_break(&d), 0);
        decimator_push(&d, 0, 1);
        decimator_push(&d, 1, 1);
        decimator_break(&d);
        decimator_break(&d);
        decimator_push(&d, 5, 2);
        decimator_push(&d, 6, NAN);
        decimator_push(&d, 7, 3);
        decimator_break(&d);
        assert_int_equal(decimator_finish(&d), 0);
        for (size_t k = 0; k < d.n; k++)
                nans += isnan(d.out[k].y);
        assert_int_equal(nans, 2);
        assert_false(isnan(d.out[0].y));
        assert_false(isnan(d.out[d.n - 1].y));
        assert_int_equal(d.n, 6);
        assert_int_equal(decimator_push(&d, NAN, 1), -EINVAL);
        decimator_done(&d);

        /* A zero span does not divide by zero: everything is one column. */
        decimator_init(&d, 3, 3, 100);
        decimator_push(&d, 3, 1);
        decimator_push(&d, 3, 9);
        decimator_push(&d, 3, 4);
        decimator_finish(&d);
        assert_true(d.n >= 2 && d.n <= 4);
        decimator_done(&d);
}

static void test_spread_labels(void **state)
{
        double y[] = { 100, 101, 300, 99 };

        scale_spread_labels(y, 4, 12, 0, 1000);
        /* Apart by at least 12, order kept, the lone one untouched. */
        assert_true(y[0] - y[3] >= 12 - 1e-9);
        assert_true(y[1] - y[0] >= 12 - 1e-9);
        assert_float_equal(y[2], 300, 0);
        {
                double z[] = { 995, 998 };
                scale_spread_labels(z, 2, 12, 0, 1000);
                assert_true(z[1] <= 1000 && z[1] - z[0] >= 12 - 1e-9);
        }
}

static void test_place_labels(void **state)
{
        double left[] = { 0, 10, 20, 200, 205 }, width[] = { 50, 50, 50, 50, 50 };
        int row[5];

        scale_place_labels(left, width, 5, 2, 4, row);
        assert_int_equal(row[0], 0);
        assert_int_equal(row[1], 1);
        assert_int_equal(row[2], -1); /* no room in two rows: dropped, not overlapped */
        assert_int_equal(row[3], 0);
        assert_int_equal(row[4], 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ticks_125),
                cmocka_unit_test(test_ticks_expand),
                cmocka_unit_test(test_ticks_degenerate),
                cmocka_unit_test(test_format_tick),
                cmocka_unit_test(test_time_units),
                cmocka_unit_test(test_gap_threshold),
                cmocka_unit_test(test_mean_max),
                cmocka_unit_test(test_decimate_keeps_extremes),
                cmocka_unit_test(test_decimate_sparse_and_breaks),
                cmocka_unit_test(test_spread_labels),
                cmocka_unit_test(test_place_labels),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
