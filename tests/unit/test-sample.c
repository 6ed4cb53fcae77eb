/* SPDX-License-Identifier: MIT */
/* CSV rows: the exact text. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sample.h"

/* 2023-11-14T22:13:20.123 UTC */
#define REALTIME ((usec_t) 1700000000123456ULL)

static int setup_utc(void **state)
{
        setenv("TZ", "UTC", 1);
        tzset();
        return 0;
}

static void test_headers(void **state)
{
        assert_string_equal(sample_csv_header,
                            "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp,"
                            "cpu_core_percent,user_core_percent,system_core_percent,pss_mb,threads,"
                            "processes,pid,profiler_cpu_percent,profiler_rss_mb,wakeups_per_second");
        /* The seed's five columns come first, unchanged. */
        assert_int_equal(strncmp(sample_csv_header,
                                 "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp,", 63),
                         0);
        assert_string_equal(thread_csv_header,
                            "elapsed_seconds,tid,thread_name,cpu_core_percent,wakeups_per_second");
}

static void test_row(void **state)
{
        SampleRow row = {
                .elapsed = 1.0,
                .realtime = REALTIME,
                .cpu_percent = 13.125,
                .memory_mb = 101.0,
                .memory_percent = 2.525,
                .cpu_core_percent = 52.5,
                .user_core_percent = 42.0,
                .system_core_percent = 10.5,
                .pss_mb = NAN,
                .threads = 4,
                .processes = 1,
                .pid = 1234,
                .profiler_cpu_percent = NAN,
                .profiler_rss_mb = NAN,
                .wakeups_per_second = NAN,
        };
        char buf[512];
        int n;

        n = sample_row_format(&row, buf, sizeof(buf));
        assert_string_equal(
                buf,
                "1.000,13.12,101.00,2.525,2023-11-14T22:13:20.123+00:00,52.50,42.00,10.50,,4,1,1234,,,\n");
        assert_int_equal(n, (int) strlen(buf));

        row.elapsed = 3661.25;
        row.cpu_percent = -0.0;
        row.memory_percent = 0.0004;
        row.pss_mb = 81.0;
        row.processes = 3;
        row.profiler_cpu_percent = 31.25;
        row.profiler_rss_mb = 12.5;
        row.wakeups_per_second = 868.04;
        n = sample_row_format(&row, buf, sizeof(buf));
        assert_string_equal(
                buf,
                "3661.250,0.00,101.00,0.000,2023-11-14T22:13:20.123+00:00,52.50,42.00,10.50,81.00,4,3,"
                "1234,31.25,12.50,868.0\n");
}

static void test_row_small_buffer(void **state)
{
        SampleRow row = {
                .realtime = REALTIME,
                .pss_mb = NAN,
                .profiler_cpu_percent = NAN,
                .profiler_rss_mb = NAN,
                .wakeups_per_second = 1e6,
        };
        char buf[512];
        int n;

        n = sample_row_format(&row, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(sample_row_format(&row, buf, (size_t) n), -ENOBUFS); /* no room for the NUL */
        assert_int_equal(sample_row_format(&row, buf, (size_t) n + 1), n);
        assert_int_equal(sample_row_format(&row, buf, 0), -ENOBUFS);
}

static void test_thread_rows(void **state)
{
        ThreadSample t = {
                .tid = 1235, .name = "MAVLinkWorker-1", .cpu_core_percent = 15.0, .wakeups_per_second = 857.0
        };
        char buf[128];

        assert_int_equal(thread_row_format(2.5, &t, buf, sizeof(buf)), 39);
        assert_string_equal(buf, "2.500,1235,MAVLinkWorker-1,15.00,857.0\n");

        strcpy(t.name, "Redis,Worker \"1\"");
        thread_row_format(2.5, &t, buf, sizeof(buf));
        assert_string_equal(buf, "2.500,1235,\"Redis,Worker \"\"1\"\"\",15.00,857.0\n");

        strcpy(t.name, "a\nb");
        thread_row_format(2.5, &t, buf, sizeof(buf));
        assert_string_equal(buf, "2.500,1235,\"a\nb\",15.00,857.0\n");

        strcpy(t.name, "cr\r");
        thread_row_format(2.5, &t, buf, sizeof(buf));
        assert_string_equal(buf, "2.500,1235,\"cr\r\",15.00,857.0\n");

        strcpy(t.name, "\"");
        t.wakeups_per_second = 0.0;
        thread_row_format(2.5, &t, buf, sizeof(buf));
        assert_string_equal(buf, "2.500,1235,\"\"\"\",15.00,0.0\n");

        /* Not measured (no schedstat): empty cells. */
        t.name[0] = '\0';
        t.cpu_core_percent = NAN;
        t.wakeups_per_second = NAN;
        thread_row_format(0, &t, buf, sizeof(buf));
        assert_string_equal(buf, "0.000,1235,,,\n");

        assert_int_equal(thread_row_format(0, &t, buf, 5), -ENOBUFS);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_headers),
                cmocka_unit_test(test_row),
                cmocka_unit_test(test_row_small_buffer),
                cmocka_unit_test(test_thread_rows),
        };

        return cmocka_run_group_tests(tests, setup_utc, NULL);
}
