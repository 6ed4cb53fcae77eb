/* SPDX-License-Identifier: MIT */
/* CPU maths and descendants' accounting, on literals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu-math.h"
#include "proc-tree.h"

#define EPS 1e-9
#define SEC(s) ((usec_t) ((s) *1e6))

/* PAM at t = 10 s: pid 1234, started at tick 5000, 1000 + 200 ticks so far. */
static const CpuSnapshot base = {
        .mono = SEC(10),
        .pid = 1234,
        .starttime = 5000,
        .utime = 1000,
        .stime = 200,
};

static void test_ticks(void **state)
{
        CpuSnapshot cur = base;
        CpuFigures f;

        /* 60 ticks (45 user, 15 system) of 10 ms in 1 s: 60 % of a core. */
        cur.mono = SEC(11);
        cur.utime += 45;
        cur.stime += 15;
        assert_int_equal(cpu_math_figures(&base, &cur, 4, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 60.0, EPS);
        assert_float_equal(f.cpu_percent, 15.0, EPS); /* of 4 CPUs */
        assert_float_equal(f.user_core_percent, 45.0, EPS);
        assert_float_equal(f.system_core_percent, 15.0, EPS);
}

static void test_late_wakeup(void **state)
{
        CpuSnapshot cur = base;
        CpuFigures f;

        /* Woken 2.5 s after the previous sample instead of 1 s: 150 ticks
         * over the real 2.5 s is still 60 %, not 150 %. */
        cur.mono = SEC(12.5);
        cur.utime += 150;
        assert_int_equal(cpu_math_figures(&base, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 60.0, EPS);
        assert_float_equal(f.cpu_percent, 30.0, EPS);

        /* And early: 30 ticks in 0.5 s. */
        cur = base;
        cur.mono = SEC(10.5);
        cur.utime += 30;
        assert_int_equal(cpu_math_figures(&base, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 60.0, EPS);
}

static void test_stale(void **state)
{
        CpuFigures f = { .cpu_percent = -1 };
        CpuSnapshot cur = base;

        cur.mono = SEC(11);
        cur.utime += 10;

        /* PAM restarted: another pid. */
        cur.pid = 4321;
        assert_int_equal(cpu_math_figures(&base, &cur, 4, 100, &f), -ESTALE);
        /* The same pid, reused by another process: its counters start from 0. */
        cur.pid = base.pid;
        cur.starttime = 9000;
        cur.utime = 3;
        assert_int_equal(cpu_math_figures(&base, &cur, 4, 100, &f), -ESTALE);
        /* Time not moving forward. */
        cur = base;
        assert_int_equal(cpu_math_figures(&base, &cur, 4, 100, &f), -ESTALE);
        cur.mono = SEC(9);
        assert_int_equal(cpu_math_figures(&base, &cur, 4, 100, &f), -ESTALE);
        assert_int_equal(cpu_math_figures(&base, &cur, 0, 100, &f), -EINVAL);
        assert_float_equal(f.cpu_percent, -1, EPS); /* untouched */
}

static void test_never_negative(void **state)
{
        CpuSnapshot cur = base;
        CpuFigures f;

        /* Counters that went back (they should not): 0, not a negative figure. */
        cur.mono = SEC(11);
        cur.utime -= 5;
        cur.stime -= 5;
        assert_int_equal(cpu_math_figures(&base, &cur, 4, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 0.0, EPS);
        assert_true(f.user_core_percent >= 0 && f.system_core_percent >= 0);

        /* More than the machine (a counter jump): capped at every core. */
        cur = base;
        cur.mono = SEC(11);
        cur.utime += 1000;
        assert_int_equal(cpu_math_figures(&base, &cur, 4, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 400.0, EPS);
        assert_float_equal(f.cpu_percent, 100.0, EPS);
}

static void test_exact_runtime(void **state)
{
        CpuSnapshot prev = base, cur = base;
        CpuFigures f;

        /* schedstat says 617 ms in 1 s while the ticks say 61 (40 user, 21 system). */
        prev.runtime_ns = 5000000000ULL;
        cur.mono = SEC(11);
        cur.utime += 40;
        cur.stime += 21;
        cur.runtime_ns = prev.runtime_ns + 617000000ULL;
        cur.runtime_exact = true;
        assert_int_equal(cpu_math_figures(&prev, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 61.7, 1e-9);
        assert_float_equal(f.cpu_percent, 30.85, 1e-9);
        /* The split is the ticks', scaled to the exact total. */
        assert_float_equal(f.user_core_percent, 61.7 * 40 / 61, 1e-9);
        assert_float_equal(f.system_core_percent, 61.7 * 21 / 61, 1e-9);

        /* Not exact (a thread exited): the ticks. */
        cur.runtime_exact = false;
        assert_int_equal(cpu_math_figures(&prev, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 61.0, 1e-9);
}

static void test_exact_cross_checked(void **state)
{
        CpuSnapshot prev = base, cur = base;
        CpuFigures f;

        cur.mono = SEC(11);
        cur.runtime_exact = true;

        /* Within the ticks' truncation (2 ticks, utime and stime cut at both
         * ends): the exact figure. */
        cur.utime += 50;
        cur.runtime_ns = 519000000; /* 51.9 ticks' worth */
        assert_int_equal(cpu_math_figures(&prev, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 51.9, 1e-9);
        cur.runtime_ns = 481000000;
        assert_int_equal(cpu_math_figures(&prev, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 48.1, 1e-9);

        /* 250 ms short: a thread born and gone within the interval, which
         * no listing saw, ran them. The ticks keep it. */
        cur.runtime_ns = 250000000;
        assert_int_equal(cpu_math_figures(&prev, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 50.0, 1e-9);
}

static void test_split_without_ticks(void **state)
{
        CpuSnapshot prev = base, cur = base;
        CpuFigures f;

        /* 3 ms of run time, no tick moved: split by the life-long ratio 1000:200. */
        cur.mono = SEC(11);
        cur.runtime_ns = 3000000;
        cur.runtime_exact = true;
        assert_int_equal(cpu_math_figures(&prev, &cur, 2, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 0.3, 1e-9);
        assert_float_equal(f.user_core_percent, 0.25, 1e-9);
        assert_float_equal(f.system_core_percent, 0.05, 1e-9);
}

static void test_children_ticks(void **state)
{
        CpuSnapshot prev = base, cur = base;
        CpuFigures f;

        prev.child_utime = 500;
        prev.child_stime = 100;
        cur.mono = SEC(12);
        cur.utime += 20;
        cur.child_utime = 600; /* +100 */
        cur.child_stime = 140; /* +40 */
        assert_int_equal(cpu_math_figures(&prev, &cur, 4, 100, &f), 0);
        assert_float_equal(f.cpu_core_percent, 80.0, EPS); /* 160 ticks in 2 s */
        assert_float_equal(f.user_core_percent, 60.0, EPS);
        assert_float_equal(f.system_core_percent, 20.0, EPS);
}

static void test_threads_delta(void **state)
{
        static const ThreadRuntime prev[] = { { 100, 1000 }, { 101, 500 }, { 105, 70 } };
        static const ThreadRuntime same[] = { { 100, 1300 }, { 101, 500 }, { 105, 90 } };
        static const ThreadRuntime born[] = {
                { 100, 1300 }, { 101, 500 }, { 103, 40 }, { 105, 90 }, { 200, 5 }
        };
        static const ThreadRuntime exited[] = { { 100, 1300 }, { 105, 90 } };
        static const ThreadRuntime exited_last[] = { { 100, 1300 }, { 101, 500 } };
        static const ThreadRuntime reused[] = { { 100, 1300 }, { 101, 20 }, { 105, 90 } };
        uint64_t d = 7;

        assert_true(cpu_math_threads_delta(prev, 3, same, 3, &d));
        assert_true(d == 320);
        /* New threads count whole: they started within the interval. */
        assert_true(cpu_math_threads_delta(prev, 3, born, 5, &d));
        assert_true(d == 365);
        /* A thread exited: its last moments are unknown, no exact figure. */
        d = 7;
        assert_false(cpu_math_threads_delta(prev, 3, exited, 2, &d));
        assert_false(cpu_math_threads_delta(prev, 3, exited_last, 2, &d));
        assert_false(cpu_math_threads_delta(prev, 3, reused, 3, &d));
        assert_false(cpu_math_threads_delta(prev, 3, NULL, 0, &d));
        assert_true(d == 7);
        /* Nothing to nothing. */
        assert_true(cpu_math_threads_delta(NULL, 0, NULL, 0, &d));
        assert_true(d == 0);
}

static void test_core_percent(void **state)
{
        assert_float_equal(cpu_math_core_percent(250000000, SEC(1)), 25.0, EPS);
        assert_float_equal(cpu_math_core_percent(250000000, SEC(2.5)), 10.0, EPS);
        assert_float_equal(cpu_math_core_percent(5, 0), 0.0, EPS);
}

static void test_counter_rates(void **state)
{
        assert_true(cpu_math_counter_delta(120000, 120857) == 857);
        assert_true(cpu_math_counter_delta(5, 5) == 0);
        /* Went back: a reused tid, a new thread counted from its start. */
        assert_true(cpu_math_counter_delta(120857, 30) == 30);
        assert_true(cpu_math_counter_delta(0, UINT64_MAX) == UINT64_MAX);

        assert_float_equal(cpu_math_per_second(857, SEC(1)), 857.0, EPS);
        assert_float_equal(cpu_math_per_second(857, SEC(0.5)), 1714.0, EPS);
        assert_float_equal(cpu_math_per_second(1149, SEC(2.5)), 459.6, EPS);
        assert_float_equal(cpu_math_per_second(5, 0), 0.0, EPS);
}

/* ---- descendants ---- */

#define P(pid_, ppid_, start_, u, s, cu, cs)                                                           \
        {                                                                                              \
                .pid = pid_, .ppid = ppid_, .starttime = start_, .utime = u, .stime = s, .cutime = cu, \
                .cstime = cs, .rss_pages = 10, .threads = 1                                            \
        }

static void test_tree_select(void **state)
{
        /* Out of order; 1301 is a grandchild listed before its parent. */
        ProcMember procs[] = {
                P(1400, 1, 100, 0, 0, 0, 0),   P(1301, 1300, 60, 0, 0, 0, 0), P(1, 0, 1, 0, 0, 0, 0),
                P(1234, 1, 50, 0, 0, 0, 0),    P(1300, 1234, 55, 0, 0, 0, 0), P(1500, 1301, 70, 0, 0, 0, 0),
                P(1600, 1400, 80, 0, 0, 0, 0), P(2, 0, 1, 0, 0, 0, 0),
        };
        bool sel[8];
        size_t n;

        n = proc_tree_select(procs, 8, 1234, sel);
        assert_int_equal(n, 4);
        assert_int_equal(procs[0].pid, 1234);
        assert_int_equal(procs[1].pid, 1300);
        assert_int_equal(procs[2].pid, 1301);
        assert_int_equal(procs[3].pid, 1500);

        /* A root that is not listed: nothing. */
        assert_int_equal(proc_tree_select(procs, 4, 999, sel), 0);
}

static void test_tree_delta(void **state)
{
        /* The fixture trees' story: child 1300 ran 20+5 ticks and reaped 1301
         * (last seen at 30+10, ended at 34+11); 1302 was born and ran 3+1. */
        static const ProcMember prev[] = {
                P(1234, 1, 5000, 1000, 200, 0, 0),
                P(1300, 1234, 6000, 100, 20, 0, 0),
                P(1301, 1300, 6500, 30, 10, 0, 0),
        };
        static const ProcMember cur[] = {
                P(1234, 1, 5000, 1042, 210, 0, 0),
                P(1300, 1234, 6000, 120, 25, 34, 11),
                P(1302, 1234, 6900, 3, 1, 0, 0),
        };
        uint64_t u = 0, s = 0;

        proc_tree_children_delta(prev, 3, cur, 3, 1234, &u, &s);
        assert_int_equal(u, 20 + 4 + 3); /* the root's own 42 is not in it */
        assert_int_equal(s, 5 + 1 + 1);
}

static void test_tree_delta_short_lived(void **state)
{
        /* A subprocess that lived and was reaped between two samples: never
         * seen, but the root's cutime has it. */
        static const ProcMember prev[] = { P(1234, 1, 5000, 1000, 200, 40, 10) };
        static const ProcMember cur[] = { P(1234, 1, 5000, 1010, 200, 47, 12) };
        uint64_t u, s;

        proc_tree_children_delta(prev, 1, cur, 1, 1234, &u, &s);
        assert_int_equal(u, 7);
        assert_int_equal(s, 2);
}

static void test_tree_delta_chain(void **state)
{
        /* 1301 was reaped by 1300, then 1300 by the root: both vanished. */
        static const ProcMember prev[] = {
                P(1234, 1, 5000, 1000, 200, 0, 0),
                P(1300, 1234, 6000, 100, 20, 0, 0),
                P(1301, 1300, 6500, 30, 10, 0, 0),
        };
        /* 1300 ended at 110+22 having reaped 1301 at 35+10: root cutime = 110+35, cstime = 22+10. */
        static const ProcMember cur[] = { P(1234, 1, 5000, 1000, 200, 145, 32) };
        uint64_t u, s;

        proc_tree_children_delta(prev, 3, cur, 1, 1234, &u, &s);
        assert_int_equal(u, 10 + 5);
        assert_int_equal(s, 2 + 0);
}

static void test_tree_delta_not_accounted(void **state)
{
        /* A child reaped without accounting (SIGCHLD ignored) or re-parented
         * away: its last moments are lost, nothing goes negative. */
        static const ProcMember prev[] = {
                P(1234, 1, 5000, 1000, 200, 0, 0),
                P(1300, 1234, 6000, 100, 20, 0, 0),
                P(1310, 1234, 6100, 50, 5, 0, 0),
        };
        static const ProcMember cur[] = {
                P(1234, 1, 5000, 1000, 200, 0, 0),
                P(1310, 1234, 6100, 53, 5, 0, 0),
        };
        uint64_t u, s;

        proc_tree_children_delta(prev, 3, cur, 2, 1234, &u, &s);
        assert_int_equal(u, 3);
        assert_int_equal(s, 0);
}

static void test_tree_delta_pid_reused(void **state)
{
        /* 1300 exited (reaped by the root) and its pid went to a new child. */
        static const ProcMember prev[] = {
                P(1234, 1, 5000, 1000, 200, 0, 0),
                P(1300, 1234, 6000, 100, 20, 0, 0),
        };
        static const ProcMember cur[] = {
                P(1234, 1, 5000, 1000, 200, 104, 21),
                P(1300, 1234, 9000, 2, 1, 0, 0),
        };
        uint64_t u, s;

        proc_tree_children_delta(prev, 2, cur, 2, 1234, &u, &s);
        assert_int_equal(u, 4 + 2);
        assert_int_equal(s, 1 + 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ticks),
                cmocka_unit_test(test_late_wakeup),
                cmocka_unit_test(test_stale),
                cmocka_unit_test(test_never_negative),
                cmocka_unit_test(test_exact_runtime),
                cmocka_unit_test(test_exact_cross_checked),
                cmocka_unit_test(test_split_without_ticks),
                cmocka_unit_test(test_children_ticks),
                cmocka_unit_test(test_threads_delta),
                cmocka_unit_test(test_core_percent),
                cmocka_unit_test(test_counter_rates),
                cmocka_unit_test(test_tree_select),
                cmocka_unit_test(test_tree_delta),
                cmocka_unit_test(test_tree_delta_short_lived),
                cmocka_unit_test(test_tree_delta_chain),
                cmocka_unit_test(test_tree_delta_not_accounted),
                cmocka_unit_test(test_tree_delta_pid_reused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
