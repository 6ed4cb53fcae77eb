/* SPDX-License-Identifier: MIT */
/* A session's summary figures. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "stats.h"

static void test_empty(void **state)
{
        SessionStats s;
        StatsSummary sum;

        stats_init(&s);
        stats_summary(&s, &sum);
        assert_int_equal(sum.samples, 0);
        assert_true(isnan(sum.cpu_mean));
}

static void test_mean_p95_max(void **state)
{
        SessionStats s;
        StatsSummary sum;

        stats_init(&s);
        for (int i = 1; i <= 100; i++)
                stats_add(&s, i, i * 0.5, 100); /* 0.5 .. 50 % */
        stats_summary(&s, &sum);
        assert_int_equal(sum.samples, 100);
        assert_float_equal(sum.cpu_mean, 25.25, 1e-9);
        assert_float_equal(sum.cpu_max, 50.0, 1e-9);
        assert_float_equal(sum.cpu_p95, 47.5, 0.05);
}

static void test_memory_figures_and_bad_values(void **state)
{
        SessionStats s;
        StatsSummary sum;

        stats_init(&s);
        /* 1 MB per second = 3600 MB per hour */
        for (int i = 0; i < 60; i++)
                stats_add(&s, i, 1.0, 50.0 + i);
        stats_add(&s, 61, NAN, 1e9); /* ignored */
        stats_add(&s, INFINITY, 1.0, 1.0);
        stats_summary(&s, &sum);
        assert_int_equal(sum.samples, 60);
        assert_float_equal(sum.memory_start_mb, 50.0, 1e-9);
        assert_float_equal(sum.memory_end_mb, 109.0, 1e-9);
        assert_float_equal(sum.memory_max_mb, 109.0, 1e-9);
}

static void test_out_of_range_cpu_lands_in_the_end_buckets(void **state)
{
        SessionStats s;
        StatsSummary sum;

        /* 19 samples below zero and one over 100 %: the 95th percentile is in the first bucket. */
        stats_init(&s);
        for (int i = 0; i < 19; i++)
                stats_add(&s, i, -5, 1);
        stats_add(&s, 19, 250, 1);
        stats_summary(&s, &sum);
        assert_float_equal(sum.cpu_max, 250, 1e-9);
        assert_float_equal(sum.cpu_p95, 0, 1e-9);

        /* One below zero and 19 at 250 %: they land in the last bucket, which reads 100 %. */
        stats_init(&s);
        stats_add(&s, 0, -5, 1);
        for (int i = 1; i < 20; i++)
                stats_add(&s, i, 250, 1);
        stats_summary(&s, &sum);
        assert_float_equal(sum.cpu_max, 250, 1e-9);
        assert_float_equal(sum.cpu_p95, 100, 1e-9);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_mean_p95_max),
                cmocka_unit_test(test_memory_figures_and_bad_values),
                cmocka_unit_test(test_out_of_range_cpu_lands_in_the_end_buckets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
