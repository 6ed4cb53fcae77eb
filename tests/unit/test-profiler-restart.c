/* SPDX-License-Identifier: MIT */
/*
 * A sampler that stops by itself while PAM runs: when it is started again
 * (profiler-restart.h) and what the profile's coverage is and says
 * (profile-coverage.h). Both pure; times are literals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "profile-coverage.h"
#include "profiler-restart.h"

#define S USEC_PER_SEC
#define MS USEC_PER_MSEC

static void test_usable_runs_restart_soon(void **state)
{
        RestartState st = { 0 };
        usec_t t = 1000 * S;

        /* Austin's early stops leave a good file each time: every one is started again 50 ms later. */
        for (int i = 0; i < 10; i++) {
                RestartDecision d = restart_decide(&st, t, true);
                assert_int_equal(d.kind, RESTART_AFTER);
                assert_int_equal(d.delay, 50 * MS);
                assert_int_equal(d.failed_in_row, 0);
                restart_note(&st, t + d.delay);
                t += 2 * S;
        }
        assert_int_equal(st.total, 10);
}

static void test_failed_runs_back_off_then_give_up(void **state)
{
        RestartState st = { 0 };
        static const usec_t want[] = { 500 * MS, 1 * S, 2 * S, 4 * S, 8 * S };
        usec_t t = 1000 * S;
        RestartDecision d;

        for (size_t i = 0; i < 5; i++) {
                d = restart_decide(&st, t, false);
                assert_int_equal(d.kind, RESTART_AFTER);
                assert_int_equal(d.delay, want[i]);
                assert_int_equal(d.failed_in_row, i + 1);
                restart_note(&st, t + d.delay);
                t += d.delay + S;
        }
        /* The sixth failure in a row: no more. */
        d = restart_decide(&st, t, false);
        assert_int_equal(d.kind, RESTART_NONE);
        assert_int_equal(d.failed_in_row, 6);

        /* A good run between failures starts the back-off afresh. */
        st = (RestartState){ 0 };
        d = restart_decide(&st, t, false);
        d = restart_decide(&st, t, false);
        assert_int_equal(d.delay, 1 * S);
        d = restart_decide(&st, t, true);
        assert_int_equal(d.delay, 50 * MS);
        d = restart_decide(&st, t, false);
        assert_int_equal(d.delay, 500 * MS);
}

static void test_per_minute_cap(void **state)
{
        RestartState st = { 0 };
        usec_t t = 5000 * S;
        RestartDecision d;

        /* 60 restarts, one every 0.5 s: a sampler that keeps stopping after a fraction of a second. */
        for (int i = 0; i < RESTARTS_PER_MINUTE; i++) {
                d = restart_decide(&st, t, true);
                assert_int_equal(d.kind, RESTART_AFTER);
                restart_note(&st, t + d.delay);
                t += 500 * MS;
        }
        /* The 61st waits until the first of them (at 5000.05 s) is a minute old. */
        d = restart_decide(&st, t, true);
        assert_int_equal(d.kind, RESTART_CAPPED);
        assert_int_equal(t, 5030 * S);
        assert_int_equal(d.delay, 5060 * S + 50 * MS - t);
        /* Later than that, the window has room again. */
        d = restart_decide(&st, 5061 * S, true);
        assert_int_equal(d.kind, RESTART_AFTER);
        assert_int_equal(d.delay, 50 * MS);
}

static void test_coverage_figures(void **state)
{
        CoverageSpan spans[] = {
                { 100 * S, 102 * S },           /* 2 s */
                { 102 * S + 50 * MS, 105 * S }, /* 2.95 s */
                { 111 * S, 0 },                 /* running: to the session's end, 1 s */
        };
        Coverage c = coverage_compute(spans, 3, 100 * S, 112 * S);

        assert_float_equal(c.session_seconds, 12, 1e-9);
        assert_float_equal(c.profiled_seconds, 5.95, 1e-9);
        assert_float_equal(c.ratio, 5.95 / 12, 1e-9);
        /* Spans outside the session are clipped; nothing covers more than all of it. */
        spans[0] = (CoverageSpan){ 90 * S, 130 * S };
        c = coverage_compute(spans, 1, 100 * S, 112 * S);
        assert_float_equal(c.profiled_seconds, 12, 1e-9);
        assert_float_equal(c.ratio, 1, 0);
        c = coverage_compute(NULL, 0, 100 * S, 100 * S);
        assert_float_equal(c.ratio, 1, 0);
        c = coverage_compute(NULL, 0, 100 * S, 110 * S);
        assert_float_equal(c.ratio, 0, 0);
}

static void test_coverage_warning(void **state)
{
        char buf[400];
        Coverage c = { .profiled_seconds = 4.9, .session_seconds = 12, .ratio = 4.9 / 12 };

        coverage_warning(&c, &(CoverageFacts){ .sampler = "Austin", .early_exits = 3 }, buf, sizeof(buf));
        assert_string_equal(buf,
                            "profile covers 40 % of the session (4.9 of 12.0 s): Austin stopped early 3 "
                            "times and was restarted; see journalctl -u pamprofd");
        coverage_warning(&c,
                         &(CoverageFacts){ .sampler = "py-spy",
                                           .early_exits = 1,
                                           .failed_runs = 5,
                                           .gave_up_after = 5,
                                           .absent_seconds = 3.2,
                                           .capped = true },
                         buf, sizeof(buf));
        assert_string_equal(buf,
                            "profile covers 40 % of the session (4.9 of 12.0 s): py-spy stopped early 1 "
                            "time; 5 of its runs failed; it was not started again after failing 5 times "
                            "in a row; PAM was not running for 3 s; max_profile_mb stopped it; see "
                            "journalctl -u pamprofd");
        /* 89.7 % is under 90 %, and reads so. */
        c = (Coverage){ .profiled_seconds = 8.97, .session_seconds = 10, .ratio = 0.897 };
        coverage_warning(&c, &(CoverageFacts){ .sampler = "Austin", .runs_max = true }, buf, sizeof(buf));
        assert_string_equal(buf,
                            "profile covers 89 % of the session (9.0 of 10.0 s): the session reached the "
                            "most runs pamprofd keeps; see journalctl -u pamprofd");
        /* Enough: nothing to say. */
        c.ratio = 0.9;
        coverage_warning(&c, &(CoverageFacts){ .early_exits = 7 }, buf, sizeof(buf));
        assert_string_equal(buf, "");
        /* A small buffer is cut, never overrun. */
        c.ratio = 0.1;
        coverage_warning(&c, &(CoverageFacts){ .early_exits = 7 }, buf, 20);
        assert_int_equal(strlen(buf), 19);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_usable_runs_restart_soon),
                cmocka_unit_test(test_failed_runs_back_off_then_give_up),
                cmocka_unit_test(test_per_minute_cap),
                cmocka_unit_test(test_coverage_figures),
                cmocka_unit_test(test_coverage_warning),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
