/* SPDX-License-Identifier: MIT */
#include "cpu-math.h"

/*
 * Where the CPU time comes from.
 *
 * /proc/PID/stat utime + stime: what psutil and top read. The kernel derives
 * them from the exact run time (sum_exec_runtime of every thread, exited ones
 * kept in the signal struct) but prints them in clock ticks, 10 ms at
 * USER_HZ = 100. A difference of two readings is therefore off by up to one
 * tick: over a 1 s sample, 1 % of a core (0.5 point of a 2-CPU machine,
 * which is the whole error budget). Truncation does not accumulate, so means
 * over many samples are right.
 *
 * /proc/PID/task/TID/schedstat, first field: the same sum_exec_runtime in
 * nanoseconds, but per live thread: a thread that exits between two samples
 * takes its last run time with it.
 *
 * The cgroup's cpu.stat usage_usec is exact and keeps exited tasks, but it
 * describes a whole unit (PAM's unit, or the session scope of a shell), not
 * one process, and needs a cgroup of its own to mean "PAM". Not used.
 *
 * Chosen: with per-thread sampling on (the sampler lists task/ anyway), the
 * interval's total is the sum over threads of their schedstat increase,
 * threads born within the interval counting whole, whenever no thread
 * vanished (cpu_math_threads_delta() says whether); for an interval in which
 * one did, the ticks of /proc/PID/stat, which keep it. A thread born and gone
 * between two samples is seen by neither listing: the exact total is checked
 * against the ticks, which must agree within their truncation (2 ticks),
 * and the ticks win when they do not. Without per-thread
 * sampling, the ticks (one read of one file, the cheapest sample). The user /
 * system split always comes from the tick deltas, scaled to the total.
 * Descendants (--include-children) are counted in ticks, see proc-tree.h.
 */

#include <errno.h>
#include <math.h>

/* The stat and schedstat files are read microseconds to a millisecond apart. */
#define CROSS_CHECK_SLACK_NS 2e6

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
        return a > b ? a - b : 0;
}

int cpu_math_figures(const CpuSnapshot *prev, const CpuSnapshot *cur, unsigned ncpus,
                     unsigned long ticks_per_sec, CpuFigures *ret)
{
        double ns_per_tick, own_ns, total_ns, core, user_share, max_core;
        uint64_t own_du, own_ds, child_du, child_ds, du, ds, all_u, all_s;

        if (ncpus == 0 || ticks_per_sec == 0)
                return -EINVAL;
        if (prev->pid != cur->pid || prev->starttime != cur->starttime)
                return -ESTALE;
        if (cur->mono <= prev->mono)
                return -ESTALE;

        ns_per_tick = (double) NSEC_PER_SEC / (double) ticks_per_sec;
        own_du = sub_sat(cur->utime, prev->utime);
        own_ds = sub_sat(cur->stime, prev->stime);
        child_du = sub_sat(cur->child_utime, prev->child_utime);
        child_ds = sub_sat(cur->child_stime, prev->child_stime);
        du = own_du + child_du;
        ds = own_ds + child_ds;

        own_ns = (double) (own_du + own_ds) * ns_per_tick;
        if (cur->runtime_exact) {
                double exact = (double) sub_sat(cur->runtime_ns, prev->runtime_ns);

                /* The ticks are the same run time cut to whole ticks, utime
                 * and stime each, at both ends: within 2 ticks of the exact
                 * figure. Further off, the threads missed one that was born
                 * and gone between two samples: the ticks have it. */
                if (fabs(exact - own_ns) <= 2 * ns_per_tick + CROSS_CHECK_SLACK_NS)
                        own_ns = exact;
        }
        total_ns = own_ns + (double) (child_du + child_ds) * ns_per_tick;

        core = 100.0 * total_ns / ((double) (cur->mono - prev->mono) * (double) NSEC_PER_USEC);
        max_core = 100.0 * ncpus;
        if (core > max_core)
                core = max_core;

        /* Split by the interval's ticks; with none (a light load between two
         * ticks), by the process's whole life so far. */
        all_u = cur->utime + cur->child_utime;
        all_s = cur->stime + cur->child_stime;
        if (du + ds > 0)
                user_share = (double) du / (double) (du + ds);
        else if (all_u + all_s > 0)
                user_share = (double) all_u / (double) (all_u + all_s);
        else
                user_share = 1.0;

        *ret = (CpuFigures){
                .cpu_percent = core / ncpus,
                .cpu_core_percent = core,
                .user_core_percent = core * user_share,
                .system_core_percent = core - core * user_share,
        };
        return 0;
}

bool cpu_math_threads_delta(const ThreadRuntime *prev, size_t n_prev, const ThreadRuntime *cur, size_t n_cur,
                            uint64_t *ret_delta_ns)
{
        uint64_t sum = 0;
        size_t i = 0, j = 0;

        while (j < n_cur) {
                if (i < n_prev && prev[i].tid < cur[j].tid)
                        return false; /* prev[i] exited */
                if (i < n_prev && prev[i].tid == cur[j].tid) {
                        if (cur[j].runtime_ns < prev[i].runtime_ns)
                                return false; /* tid reused */
                        sum += cur[j].runtime_ns - prev[i].runtime_ns;
                        i++;
                } else
                        sum += cur[j].runtime_ns; /* born within the interval */
                j++;
        }
        if (i < n_prev)
                return false;
        *ret_delta_ns = sum;
        return true;
}

double cpu_math_core_percent(uint64_t runtime_ns, usec_t interval)
{
        if (interval == 0)
                return 0.0;
        return 100.0 * (double) runtime_ns / ((double) interval * (double) NSEC_PER_USEC);
}

uint64_t cpu_math_counter_delta(uint64_t prev, uint64_t cur)
{
        return cur >= prev ? cur - prev : cur;
}

double cpu_math_per_second(uint64_t count, usec_t interval)
{
        if (interval == 0)
                return 0.0;
        return (double) count * (double) USEC_PER_SEC / (double) interval;
}
