/* SPDX-License-Identifier: MIT */
/* The flight recorder's triggers (common/recorder/trigger.c) on literal rows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "trigger.h"

#define S(x) ((usec_t) (x) *USEC_PER_SEC)
#define T0 1000 /* seconds: rows start here (0 is "no capture yet" to the state) */

static TriggerConfig cfg(void)
{
        return (TriggerConfig){
                .cpu_percent = 80, .cpu_samples = 3, .cpu_rearm_percent = 50, .window = S(10)
        };
}

/* Feeds one row a second from second `at`; the number of the row that fired (from 0), or -1. */
static int feed_cpu(TriggerState *s, const TriggerConfig *c, unsigned at, const double *cpu, size_t n,
                    TriggerFiring *ret)
{
        int fired = -1;

        for (size_t i = 0; i < n; i++) {
                TriggerRow row = { .t = S(at + i), .cpu_core_percent = cpu[i], .rss_mb = 100, .threads = 4 };
                TriggerFiring f;
                if (trigger_feed(s, c, &row, &f) && fired < 0) {
                        fired = (int) i;
                        *ret = f;
                }
        }
        return fired;
}

static void test_cpu_k_rows(void **state)
{
        TriggerConfig c = cfg();
        TriggerState s;
        TriggerFiring f;

        trigger_init(&s);
        /* two over, a dip, two over: no run of three */
        assert_int_equal(feed_cpu(&s, &c, T0, (double[]){ 90, 95, 70, 90, 99 }, 5, &f), -1);
        /* the third in a row fires, on the row that makes it three */
        assert_int_equal(feed_cpu(&s, &c, T0 + 5, (double[]){ 85 }, 1, &f), 0);
        assert_int_equal(f.kind, TRIGGER_CPU);
        assert_int_equal(f.t, S(T0 + 5));
        assert_int_equal(f.samples, 3);
        assert_true(f.value == 85);
        assert_non_null(strstr(f.words, "3 samples"));
        /* exactly the threshold counts; NAN (not measured) neither counts nor breaks */
        trigger_init(&s);
        assert_int_equal(feed_cpu(&s, &c, T0, (double[]){ 80, NAN, 80, 80 }, 4, &f), 3);
        /* off */
        c.cpu_percent = 0;
        trigger_init(&s);
        assert_int_equal(feed_cpu(&s, &c, T0, (double[]){ 200, 200, 200, 200 }, 4, &f), -1);
}

static void test_cpu_rearm_hysteresis(void **state)
{
        TriggerConfig c = cfg();
        TriggerState s;
        TriggerFiring f;
        char words[128];

        trigger_init(&s);
        assert_int_equal(feed_cpu(&s, &c, T0, (double[]){ 90, 90, 90 }, 3, &f), 2);
        trigger_describe(&s, &c, S(T0 + 3), words, sizeof(words));
        assert_non_null(strstr(words, "re-arms under 50%"));
        /* hovering around the threshold, never under the re-arm figure: nothing */
        assert_int_equal(feed_cpu(&s, &c, T0 + 3, (double[]){ 90, 79, 90, 90, 90, 60, 90, 90, 90 }, 9, &f),
                         -1);
        /* under 50 re-arms; the run counts from the next row */
        assert_int_equal(feed_cpu(&s, &c, T0 + 12, (double[]){ 49, 90, 90, 90 }, 4, &f), 3);
        assert_int_equal(f.t, S(T0 + 15));
}

static void test_rss_rise_within_window(void **state)
{
        TriggerConfig c = { .rss_mb = 100, .window = S(10) };
        TriggerState s;
        TriggerFiring f;
        bool fired = false;

        /* a slow leak, 8 MB a second: 80 MB within any 10 s window, never over 100 */
        trigger_init(&s);
        for (unsigned i = 0; i < 120; i++) {
                TriggerRow row = { .t = S(T0 + i), .cpu_core_percent = 5, .rss_mb = 200 + 8.0 * i };
                fired |= trigger_feed(&s, &c, &row, &f);
        }
        assert_false(fired);

        /* a jump: up exactly 100 is not over; 100.5 over the window's lowest is */
        trigger_init(&s);
        assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0), .rss_mb = 300 }, &f));
        assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + 1), .rss_mb = 250 }, &f));
        assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + 2), .rss_mb = 350 }, &f));
        assert_true(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + 3), .rss_mb = 350.5 }, &f));
        assert_int_equal(f.kind, TRIGGER_RSS);
        assert_true(f.baseline == 250);
        assert_true(f.value == 350.5);
        /* the baseline starts again at the row that fired: staying up fires nothing */
        assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + 4), .rss_mb = 360 }, &f));

        /* a low that left the window is no baseline */
        trigger_init(&s);
        assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0), .rss_mb = 100 }, &f));
        for (unsigned i = 1; i <= 11; i++)
                assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + i), .rss_mb = 190 }, &f));
        assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + 12), .rss_mb = 210 }, &f));
}

static void test_threads_jump(void **state)
{
        TriggerConfig c = { .threads_jump = 20, .window = S(10) };
        TriggerState s;
        TriggerFiring f;

        trigger_init(&s);
        assert_false(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0), .rss_mb = NAN, .threads = 10 }, &f));
        assert_false(
                trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + 1), .rss_mb = NAN, .threads = 29 }, &f));
        assert_true(trigger_feed(&s, &c, &(TriggerRow){ .t = S(T0 + 2), .rss_mb = NAN, .threads = 30 }, &f));
        assert_int_equal(f.kind, TRIGGER_THREADS);
        assert_true(f.baseline == 10);
        assert_true(f.value == 30);
        assert_non_null(strstr(f.words, "from 10 to 30"));
}

static void test_exit(void **state)
{
        TriggerConfig c = cfg();
        TriggerState s;
        TriggerFiring f;

        trigger_init(&s);
        c.on_exit = true;
        /* a CPU run under way is forgotten with the PAM that exited */
        assert_int_equal(feed_cpu(&s, &c, T0, (double[]){ 90, 90 }, 2, &f), -1);
        assert_true(trigger_exit(&s, &c, S(T0 + 2), &f));
        assert_int_equal(f.kind, TRIGGER_EXIT);
        assert_string_equal(trigger_kind_to_string(f.kind), "exit");
        assert_int_equal(feed_cpu(&s, &c, T0 + 3, (double[]){ 90, 90 }, 2, &f), -1);
        c.on_exit = false;
        assert_false(trigger_exit(&s, &c, S(T0 + 10), &f));
}

static void test_cooldown(void **state)
{
        TriggerConfig c = cfg();
        TriggerState s;
        TriggerFiring f;
        char words[128];

        c.cooldown = S(60);
        c.on_exit = true;
        trigger_init(&s);
        assert_int_equal(feed_cpu(&s, &c, T0, (double[]){ 90, 90, 90, 10 }, 4, &f), 2);
        /* re-armed, over again 20 s later: held back, and so is an exit */
        assert_int_equal(feed_cpu(&s, &c, T0 + 20, (double[]){ 90, 90, 90, 90 }, 4, &f), -1);
        assert_true(s.held_back >= 1);
        assert_false(trigger_exit(&s, &c, S(T0 + 30), &f));
        trigger_describe(&s, &c, S(T0 + 32), words, sizeof(words));
        assert_non_null(strstr(words, "cooldown, 30s left"));
        /* held back, the run goes on counting; re-armed or not, nothing before T0 + 62 */
        assert_int_equal(feed_cpu(&s, &c, T0 + 40, (double[]){ 90, 90, 90 }, 3, &f), -1);
        assert_int_equal(feed_cpu(&s, &c, T0 + 43, (double[]){ 10, 90, 90, 90, 90 }, 5, &f), -1);
        /* the cooldown is over (the last capture was at T0 + 2): the condition still holds, it fires */
        assert_int_equal(feed_cpu(&s, &c, T0 + 62, (double[]){ 90 }, 1, &f), 0);
        assert_int_equal(f.t, S(T0 + 62));
}

static void test_max_per_hour(void **state)
{
        TriggerConfig c = cfg();
        TriggerState s;
        TriggerFiring f;
        unsigned fired = 0;

        c.max_per_hour = 2;
        trigger_init(&s);
        /* a flapping load, a spike every 10 s for an hour and a half */
        for (unsigned t = 0; t < 5400; t += 10) {
                if (feed_cpu(&s, &c, T0 + t, (double[]){ 90, 90, 90, 10 }, 4, &f) >= 0) {
                        fired++;
                        assert_true(trigger_captures_last_hour(&s, S(T0 + t + 3)) <= 2);
                }
                if (t == 3590)
                        assert_int_equal(fired, 2);
        }
        /* two in the first hour, two more once the first two are an hour old */
        assert_int_equal(fired, 4);
        assert_true(s.held_back > 100);
}

static void test_manual_exempt(void **state)
{
        TriggerConfig c = cfg();
        TriggerState s;
        TriggerFiring f;

        c.cooldown = S(300);
        c.max_per_hour = 1;
        trigger_init(&s);
        assert_int_equal(feed_cpu(&s, &c, T0, (double[]){ 90, 90, 90 }, 3, &f), 2);
        /* in the cooldown and at the hourly limit, by hand still works, every time */
        for (unsigned i = 0; i < 5; i++) {
                trigger_manual(&s, S(T0 + 10 + i), &f);
                assert_int_equal(f.kind, TRIGGER_MANUAL);
        }
        assert_int_equal(trigger_captures_last_hour(&s, S(T0 + 20)), 6);
        /* and it counts: the cooldown runs from the last manual one */
        assert_int_equal(feed_cpu(&s, &c, T0 + 20, (double[]){ 10, 90, 90, 90 }, 4, &f), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cpu_k_rows),
                cmocka_unit_test(test_cpu_rearm_hysteresis),
                cmocka_unit_test(test_rss_rise_within_window),
                cmocka_unit_test(test_threads_jump),
                cmocka_unit_test(test_exit),
                cmocka_unit_test(test_cooldown),
                cmocka_unit_test(test_max_per_hour),
                cmocka_unit_test(test_manual_exempt),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
