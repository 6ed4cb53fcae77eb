/* SPDX-License-Identifier: MIT */
#include "sampler-internal.h"

#include <math.h>
#include <string.h>

#include "proc-comm.h"
#include "proc-read.h"
#include "proc-schedstat.h"
#include "sort-util.h"

/* ---- threads ---- */

static int add_tid(pid_t tid, void *userdata)
{
        Sampler *s = userdata;
        ThreadTable *t = &s->threads[s->cur];
        int r;

        if (t->n == s->threads_cap) {
                r = sampler_grow_threads(s, s->threads_cap * 2);
                if (r < 0)
                        return r;
        }
        t->rt[t->n++] = (ThreadRuntime){ .tid = tid };
        return 0;
}

static int cmp_tid(const void *a, const void *b)
{
        pid_t x = ((const ThreadRuntime *) a)->tid, y = ((const ThreadRuntime *) b)->tid;

        return (x > y) - (x < y);
}

/*
 * Wake-ups: the third field of the schedstat already read for the run time,
 * the times the scheduler put the thread on a CPU (sched_info.pcount). A
 * thread that sleeps comes back through exactly one of those per wake-up; a
 * runnable thread that was preempted comes back through one more, so for a
 * CPU-bound thread the figure counts its timeslices, and for a thread that
 * mostly sleeps (a poller: the case the figure is for) it is its wake-ups.
 *
 * Not status's voluntary_ctxt_switches, which counts the sleeps alone: it is
 * a second file per thread, and a dear one (some 50 lines the kernel formats,
 * masks, capabilities, cpu lists: 9 us a read here against 6 us for
 * schedstat), which would more than double the per-thread sampler's cost,
 * against nothing for the counter already in hand. Without schedstat (no
 * CONFIG_SCHED_INFO) there is no figure: the column is empty.
 */
static int read_thread_counters(Sampler *s, pid_t tid, uint64_t *ret_ns, uint64_t *ret_timeslices)
{
        char path[32];
        ProcSchedstat ss;
        ProcStat st;
        size_t len;
        int r;

        snprintf(path, sizeof(path), "%d/%s", (int) tid, s->have_schedstat ? "schedstat" : "stat");
        r = proc_read_file(s->task_fd, path, s->buf, sizeof(s->buf), &len);
        if (r < 0)
                return r;
        if (s->have_schedstat) {
                r = proc_schedstat_parse(s->buf, len, &ss);
                if (r < 0)
                        return r;
                *ret_ns = ss.run_ns;
                *ret_timeslices = ss.timeslices;
                return 0;
        }
        r = proc_stat_parse(s->buf, len, &st);
        if (r < 0)
                return r;
        *ret_ns = (st.utime + st.stime) * (NSEC_PER_SEC / s->clk_tck);
        *ret_timeslices = 0;
        return 0;
}

static void read_thread_name(Sampler *s, pid_t tid, ThreadMeta *m)
{
        char path[32];
        size_t len;

        snprintf(path, sizeof(path), "%d/comm", (int) tid);
        if (proc_read_file(s->task_fd, path, s->buf, sizeof(s->buf), &len) < 0 ||
            proc_comm_parse(s->buf, len, m->name, sizeof(m->name)) < 0)
                return; /* gone since the listing, or unreadable: keep what we had */
}

/* A thread seen before: its name is read again just after it was born (it may name itself then),
 * and every NAME_REFRESH samples after that (spread over the threads by tid). */
static void refresh_name(Sampler *s, pid_t tid, ThreadMeta *m)
{
        if (m->fresh) {
                read_thread_name(s, tid, m);
                m->name_age = (unsigned) tid % NAME_REFRESH;
                m->fresh = false;
        } else if (++m->name_age >= NAME_REFRESH) {
                read_thread_name(s, tid, m);
                m->name_age = 0;
        }
}

/*
 * Lists and reads the target's threads into the current table, and, for an
 * interval (not a baseline), the per-thread figures, whether the sum of
 * their run time increases is the interval's exact run time, and the sum of
 * their wake-ups (a thread that exited within the interval takes its last
 * ones with it).
 */
int sampler_sample_threads(Sampler *s, usec_t interval, bool *ret_exact, uint64_t *ret_delta_ns,
                           uint64_t *ret_wakeups)
{
        ThreadTable *prev = &s->threads[!s->cur], *cur = &s->threads[s->cur];
        uint64_t wakeups = 0;
        bool lost = false;
        size_t i = 0, k = 0;
        int r;

        cur->n = 0;
        r = proc_list_ids(s->task_fd, s->dents, sizeof(s->dents), add_tid, s);
        if (r < 0)
                return r;
        qsort_safe(cur->rt, cur->n, sizeof(*cur->rt), cmp_tid);

        for (size_t j = 0; j < cur->n; j++) {
                pid_t tid = cur->rt[j].tid;
                uint64_t ns, slices, used, woke;
                ThreadMeta m;

                if (read_thread_counters(s, tid, &ns, &slices) < 0) {
                        lost = true; /* exited since the listing */
                        continue;
                }
                while (i < prev->n && prev->rt[i].tid < tid)
                        i++;
                if (i < prev->n && prev->rt[i].tid == tid) {
                        m = prev->meta[i];
                        refresh_name(s, tid, &m);
                        used = cpu_math_counter_delta(prev->rt[i].runtime_ns, ns);
                        woke = cpu_math_counter_delta(prev->rt[i].timeslices, slices);
                } else {
                        /* Born within the interval: all its counts are in it. */
                        m = (ThreadMeta){ .fresh = true };
                        read_thread_name(s, tid, &m);
                        used = ns;
                        woke = slices;
                }
                wakeups += woke;

                cur->rt[k] = (ThreadRuntime){ .tid = tid, .runtime_ns = ns, .timeslices = slices };
                cur->meta[k] = m;
                s->out[k] = (ThreadSample){
                        .tid = tid,
                        .cpu_core_percent = cpu_math_core_percent(used, interval),
                        .wakeups_per_second = s->have_schedstat ? cpu_math_per_second(woke, interval) : NAN,
                };
                memcpy(s->out[k].name, m.name, sizeof(m.name));
                k++;
        }
        cur->n = k;

        if (interval > 0) {
                uint64_t delta = 0;

                *ret_exact = !lost && s->have_schedstat &&
                        cpu_math_threads_delta(prev->rt, prev->n, cur->rt, cur->n, &delta);
                *ret_delta_ns = *ret_exact ? delta : 0;
                *ret_wakeups = wakeups;
        }
        return 0;
}

/*
 * The CPU of threads that ended within the interval (those that lived less than one, and the
 * last stretch of those that died in it): the process's figure counts them (the kernel keeps a
 * dead thread's time in its process), no thread row does. One row more, tid 0, so the panel and
 * the CSV account for the whole process; within a clock tick of the process's figure.
 */
void sampler_add_ended_row(Sampler *s, double process_core_percent)
{
        double rows = 0;

        for (size_t i = 0; i < s->n_out; i++)
                if (isfinite(s->out[i].cpu_core_percent))
                        rows += s->out[i].cpu_core_percent;
        /* exact run times add up to the process's figure (to rounding); what is more is theirs */
        if (!isfinite(process_core_percent) || process_core_percent - rows < 0.01)
                return;
        s->out[s->n_out] = (ThreadSample){ .tid = 0,
                                           .name = SAMPLER_ENDED_THREADS,
                                           .cpu_core_percent = process_core_percent - rows,
                                           .wakeups_per_second = NAN };
        s->n_out++;
}
