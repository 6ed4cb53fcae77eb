/* SPDX-License-Identifier: MIT */
#include "sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cpu-math.h"
#include "proc-comm.h"
#include "proc-cpus.h"
#include "proc-meminfo.h"
#include "proc-read.h"
#include "proc-schedstat.h"
#include "proc-smaps.h"
#include "proc-stat.h"
#include "proc-tree.h"
#include "sort-util.h"

#define IO_BUF_SIZE 4096
#define DENTS_BUF_SIZE 16384
#define NAME_REFRESH 16 /* re-read a thread's comm every this many samples */
#define INITIAL_THREADS 64
#define INITIAL_PROCS 256
#define PROC_TEXT_MAX (4u << 20)
#define MIB (1024.0 * 1024.0)

typedef struct ThreadMeta {
        char name[sizeof(((ThreadSample *) NULL)->name)];
        unsigned name_age; /* samples since the comm was read */
        bool fresh;        /* first seen last sample: it may name itself just after starting */
} ThreadMeta;

/* The thread table of one sample; two of them, the previous and the current. */
typedef struct ThreadTable {
        ThreadRuntime *rt; /* sorted by tid */
        ThreadMeta *meta;  /* parallel to rt */
        size_t n;
} ThreadTable;

struct Sampler {
        SamplerOptions opts;
        unsigned ncpus;
        uint64_t mem_total_kb;
        uint64_t page_size;
        unsigned long clk_tck;
        int root_fd; /* our own descriptor of the proc root, for listing it */

        pid_t pid;   /* 0: detached */
        int pid_fd;  /* <proc>/PID: pins the process, a reused pid reads as gone */
        int stat_fd; /* <proc>/PID/stat, re-read with pread() */
        int task_fd; /* <proc>/PID/task, rewound and re-listed */
        bool have_schedstat;
        bool need_baseline; /* an error left the tables half-updated */
        CpuSnapshot prev;
        usec_t pss_next; /* 0: read PSS on the next sample */

        ThreadTable threads[2]; /* [cur] and [!cur] */
        unsigned cur;
        size_t threads_cap;
        ThreadSample *out;
        size_t n_out;

        ProcMember *tree[2]; /* [cur] and [!cur]: all processes, then the selection */
        size_t n_tree[2];
        bool *selected;
        size_t tree_cap;

        char buf[IO_BUF_SIZE];
        uint64_t dents[DENTS_BUF_SIZE / sizeof(uint64_t)]; /* getdents64, aligned for its records */
};

/* What one reading of the target gives, beyond the CPU snapshot. */
typedef struct Reading {
        CpuSnapshot snap;
        uint64_t rss_pages;
        uint64_t threads;
        unsigned processes;
        double pss_mb;
        double wakeups_per_second; /* NAN: not measured */
} Reading;

static int read_machine(Sampler *s)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        long v;
        int r;

        r = proc_read_file_alloc(s->opts.proc_fd, "stat", PROC_TEXT_MAX, &text, &len);
        if (r < 0)
                return r;
        r = proc_cpus_parse(text, len, &s->ncpus);
        if (r < 0)
                return r;
        free(text);
        text = NULL;

        r = proc_read_file_alloc(s->opts.proc_fd, "meminfo", PROC_TEXT_MAX, &text, &len);
        if (r < 0)
                return r;
        r = proc_meminfo_parse(text, len, &s->mem_total_kb);
        if (r < 0)
                return r;

        v = sysconf(_SC_PAGESIZE);
        s->page_size = v > 0 ? (uint64_t) v : 4096;
        v = sysconf(_SC_CLK_TCK);
        s->clk_tck = v > 0 ? (unsigned long) v : 100;
        return 0;
}

/* Grows array p to n elements: 0, or -ENOMEM with p as it was. */
#define GROW(p, n)                                                       \
        __extension__({                                                  \
                __typeof__(p) _q = reallocarray((p), (n), sizeof(*(p))); \
                if (_q)                                                  \
                        (p) = _q;                                        \
                _q ? 0 : -ENOMEM;                                        \
        })

static int grow_threads(Sampler *s, size_t cap)
{
        if (GROW(s->threads[0].rt, cap) < 0 || GROW(s->threads[1].rt, cap) < 0 ||
            GROW(s->threads[0].meta, cap) < 0 || GROW(s->threads[1].meta, cap) < 0 ||
            GROW(s->out, cap + 1) < 0) /* + the row of the threads that ended */
                return -ENOMEM;
        s->threads_cap = cap;
        return 0;
}

static int grow_tree(Sampler *s, size_t cap)
{
        if (GROW(s->tree[0], cap) < 0 || GROW(s->tree[1], cap) < 0 || GROW(s->selected, cap) < 0)
                return -ENOMEM;
        s->tree_cap = cap;
        return 0;
}

int sampler_new(const SamplerOptions *opts, Sampler **ret)
{
        _cleanup_(sampler_freep) Sampler *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->opts = *opts;
        s->root_fd = s->pid_fd = s->stat_fd = s->task_fd = -1;

        r = read_machine(s);
        if (r < 0)
                return r;
        if (opts->threads) {
                r = grow_threads(s, INITIAL_THREADS);
                if (r < 0)
                        return r;
        }
        if (opts->include_children) {
                /* Not the borrowed descriptor: listing moves its offset. */
                s->root_fd = proc_open(opts->proc_fd, ".", O_DIRECTORY);
                if (s->root_fd < 0)
                        return s->root_fd;
                r = grow_tree(s, INITIAL_PROCS);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(s);
        return 0;
}

Sampler *sampler_free(Sampler *s)
{
        if (!s)
                return NULL;
        sampler_detach(s);
        closep(&s->root_fd);
        for (int i = 0; i < 2; i++) {
                free(s->threads[i].rt);
                free(s->threads[i].meta);
                free(s->tree[i]);
        }
        free(s->out);
        free(s->selected);
        free(s);
        return NULL;
}

pid_t sampler_pid(const Sampler *s)
{
        return s->pid;
}

size_t sampler_threads(const Sampler *s, const ThreadSample **ret)
{
        *ret = s->out;
        return s->n_out;
}

void sampler_detach(Sampler *s)
{
        closep(&s->pid_fd);
        closep(&s->stat_fd);
        closep(&s->task_fd);
        s->pid_fd = s->stat_fd = s->task_fd = -1;
        s->pid = 0;
        s->n_out = 0;
        s->threads[0].n = s->threads[1].n = 0;
        s->n_tree[0] = s->n_tree[1] = 0;
}

/* A zombie whose threads have all exited is gone; a leader that exited
 * while its other threads run (Z, num_threads > 1) is not. */
static bool is_gone(const ProcStat *st)
{
        return (st->state == 'Z' || st->state == 'X') && st->num_threads <= 1;
}

static int read_target_stat(Sampler *s, ProcStat *ret)
{
        size_t len;
        int r;

        r = proc_read_fd(s->stat_fd, s->buf, sizeof(s->buf), &len);
        if (r < 0)
                return r;
        r = proc_stat_parse(s->buf, len, ret);
        if (r < 0)
                return r;
        return is_gone(ret) ? -ESRCH : 0;
}

/* ---- threads ---- */

static int add_tid(pid_t tid, void *userdata)
{
        Sampler *s = userdata;
        ThreadTable *t = &s->threads[s->cur];
        int r;

        if (t->n == s->threads_cap) {
                r = grow_threads(s, s->threads_cap * 2);
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

/*
 * Lists and reads the target's threads into the current table, and, for an
 * interval (not a baseline), the per-thread figures, whether the sum of
 * their run time increases is the interval's exact run time, and the sum of
 * their wake-ups (a thread that exited within the interval takes its last
 * ones with it).
 */
static int sample_threads(Sampler *s, usec_t interval, bool *ret_exact, uint64_t *ret_delta_ns,
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
                        if (m.fresh) {
                                read_thread_name(s, tid, &m);
                                m.name_age = (unsigned) tid % NAME_REFRESH; /* spread the re-reads */
                                m.fresh = false;
                        } else if (++m.name_age >= NAME_REFRESH) {
                                read_thread_name(s, tid, &m);
                                m.name_age = 0;
                        }
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

/* ---- descendants ---- */

typedef struct TreeScan {
        Sampler *sampler;
        const ProcStat *root;
        size_t n;
} TreeScan;

static void member_from_stat(ProcMember *m, const ProcStat *st)
{
        *m = (ProcMember){
                .pid = st->pid,
                .ppid = st->ppid,
                .starttime = st->starttime,
                .utime = st->utime,
                .stime = st->stime,
                .cutime = st->cutime,
                .cstime = st->cstime,
                .rss_pages = st->rss,
                .threads = st->num_threads,
        };
}

static int add_proc(pid_t pid, void *userdata)
{
        TreeScan *scan = userdata;
        Sampler *s = scan->sampler;
        ProcMember *m;
        char path[32];
        ProcStat st;
        size_t len;
        int r;

        if (scan->n == s->tree_cap) {
                r = grow_tree(s, s->tree_cap * 2);
                if (r < 0)
                        return r;
        }
        m = &s->tree[s->cur][scan->n];
        if (pid == scan->root->pid) {
                member_from_stat(m, scan->root); /* the reading the CPU maths uses */
                scan->n++;
                return 0;
        }
        snprintf(path, sizeof(path), "%d/stat", (int) pid);
        r = proc_read_file(s->opts.proc_fd, path, s->buf, sizeof(s->buf), &len);
        if (r == -ESRCH || r == -EACCES)
                return 0; /* exited since the listing; or hidden (hidepid) */
        if (r < 0)
                return r;
        if (proc_stat_parse(s->buf, len, &st) < 0)
                return 0; /* not ours to judge: skip it */
        member_from_stat(m, &st);
        scan->n++;
        return 0;
}

/* Scans the proc root for the target's descendants into tree[cur]; their
 * ticks since the previous scan (not for a baseline), memory and threads. */
static int sample_tree(Sampler *s, const ProcStat *root, bool baseline, Reading *rd)
{
        ProcMember *cur;
        TreeScan scan = { .sampler = s, .root = root };
        uint64_t du = 0, ds = 0;
        size_t n;
        int r;

        r = proc_list_ids(s->root_fd, s->dents, sizeof(s->dents), add_proc, &scan);
        if (r < 0)
                return r;
        cur = s->tree[s->cur];
        n = proc_tree_select(cur, scan.n, root->pid, s->selected);
        if (n == 0)
                return -ESRCH; /* the root itself was not listed: gone */
        s->n_tree[s->cur] = n;

        if (!baseline)
                proc_tree_children_delta(s->tree[!s->cur], s->n_tree[!s->cur], cur, n, root->pid, &du, &ds);
        rd->snap.child_utime += du;
        rd->snap.child_stime += ds;
        rd->rss_pages = rd->threads = 0;
        for (size_t i = 0; i < n; i++) {
                rd->rss_pages += cur[i].rss_pages;
                rd->threads += cur[i].threads;
        }
        rd->processes = (unsigned) n;
        return 0;
}

/* ---- PSS ---- */

static int read_pss_kb(Sampler *s, int dir_fd, const char *relpath, uint64_t *ret_kb)
{
        size_t len;
        int r;

        r = proc_read_file(dir_fd, relpath, s->buf, sizeof(s->buf), &len);
        if (r < 0)
                return r;
        return proc_smaps_rollup_parse(s->buf, len, ret_kb);
}

/* PSS of the target (and descendants), or NAN when it is not this sample's
 * turn or cannot be read (no smaps_rollup, no permission). Read at the sample
 * nearest each deadline of its own cadence, without drift. */
static double sample_pss(Sampler *s, usec_t now, usec_t interval)
{
        uint64_t total = 0, kb;

        if (s->opts.pss_interval == 0)
                return NAN;
        if (s->pss_next != 0 && now + interval / 2 < s->pss_next)
                return NAN;
        /* The first read sets the cadence; later ones keep to it. */
        s->pss_next = s->pss_next == 0 ? now + s->opts.pss_interval : s->pss_next + s->opts.pss_interval;
        if (s->pss_next <= now)
                s->pss_next = now + s->opts.pss_interval; /* after a long gap */

        if (read_pss_kb(s, s->pid_fd, "smaps_rollup", &kb) < 0)
                return NAN;
        total = kb;
        if (s->opts.include_children)
                for (size_t i = 0; i < s->n_tree[s->cur]; i++) {
                        const ProcMember *m = &s->tree[s->cur][i];
                        char path[48];

                        if (m->pid == s->pid)
                                continue;
                        snprintf(path, sizeof(path), "%d/smaps_rollup", (int) m->pid);
                        if (read_pss_kb(s, s->opts.proc_fd, path, &kb) == 0)
                                total += kb; /* a child gone or without memory adds nothing */
                }
        return (double) total * 1024.0 / MIB;
}

/* ---- one reading ---- */

/*
 * Reads everything of one sample into tables[cur] and *rd, from the target's
 * stat onwards. baseline: no interval, no figures. On success the caller
 * swaps the tables.
 */
static int take_reading(Sampler *s, usec_t now, const ProcStat *st, bool baseline, Reading *rd)
{
        usec_t interval = baseline ? 0 : now - s->prev.mono;
        bool exact = false;
        uint64_t delta_ns = 0, wakeups = 0;
        int r;

        *rd = (Reading) {
                .snap = {
                        .mono = now, .pid = st->pid, .starttime = st->starttime,
                        .utime = st->utime, .stime = st->stime,
                        .runtime_ns = s->prev.runtime_ns,
                        .child_utime = s->prev.child_utime, .child_stime = s->prev.child_stime,
                },
                .rss_pages = st->rss,
                .threads = st->num_threads,
                .processes = 1,
                .pss_mb = NAN,
                .wakeups_per_second = NAN,
        };

        if (s->opts.threads) {
                r = sample_threads(s, interval, &exact, &delta_ns, &wakeups);
                if (r < 0)
                        return r;
                rd->snap.runtime_exact = exact;
                rd->snap.runtime_ns += delta_ns;
                if (s->have_schedstat && !baseline)
                        rd->wakeups_per_second = cpu_math_per_second(wakeups, interval);
        }
        if (s->opts.include_children) {
                r = sample_tree(s, st, baseline, rd);
                if (r < 0)
                        return r;
        }
        if (!baseline)
                rd->pss_mb = sample_pss(s, now, interval);
        return 0;
}

static int baseline(Sampler *s, usec_t now)
{
        ProcStat st;
        Reading rd;
        int r;

        r = read_target_stat(s, &st);
        if (r < 0)
                return r;
        r = take_reading(s, now, &st, true, &rd);
        if (r < 0)
                return r;
        s->prev = rd.snap;
        s->cur = !s->cur;
        s->pss_next = 0; /* read on the first sample */
        s->need_baseline = false;
        return 0;
}

int sampler_attach(Sampler *s, pid_t pid, usec_t now_mono)
{
        char path[16];
        size_t len;
        int r;

        sampler_detach(s);
        if (pid <= 0)
                return -EINVAL;

        snprintf(path, sizeof(path), "%d", (int) pid);
        s->pid_fd = proc_open(s->opts.proc_fd, path, O_DIRECTORY);
        if (s->pid_fd < 0)
                return s->pid_fd;
        s->stat_fd = proc_open(s->pid_fd, "stat", 0);
        if (s->stat_fd < 0) {
                r = s->stat_fd;
                goto fail;
        }
        if (s->opts.threads) {
                s->task_fd = proc_open(s->pid_fd, "task", O_DIRECTORY);
                if (s->task_fd < 0) {
                        r = s->task_fd;
                        goto fail;
                }
                /* The stat just opened, a missing schedstat means the kernel
                 * has none (no CONFIG_SCHED_INFO): per-thread ticks then. */
                r = proc_read_file(s->pid_fd, "schedstat", s->buf, sizeof(s->buf), &len);
                s->have_schedstat = r >= 0;
        }

        s->pid = pid;
        s->prev = (CpuSnapshot){ 0 };
        r = baseline(s, now_mono);
        if (r < 0)
                goto fail;
        return 0;
fail:
        sampler_detach(s);
        return r;
}

/*
 * The CPU of threads that ended within the interval (those that lived less than one, and the
 * last stretch of those that died in it): the process's figure counts them (the kernel keeps a
 * dead thread's time in its process), no thread row does. One row more, tid 0, so the panel and
 * the CSV account for the whole process; within a clock tick of the process's figure.
 */
static void add_ended_row(Sampler *s, double process_core_percent)
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

int sampler_sample(Sampler *s, usec_t now_mono, SampleRow *ret_row)
{
        CpuFigures cpu;
        ProcStat st;
        Reading rd;
        double rss_bytes;
        int r;

        s->n_out = 0;
        if (s->pid <= 0)
                return -ESRCH;

        r = read_target_stat(s, &st);
        if (r == -ESRCH) {
                sampler_detach(s);
                return r;
        }
        if (r < 0)
                goto fail;
        if (s->need_baseline || st.starttime != s->prev.starttime || now_mono <= s->prev.mono) {
                r = baseline(s, now_mono);
                if (r == -ESRCH)
                        sampler_detach(s);
                return r < 0 ? r : -ESTALE;
        }

        r = take_reading(s, now_mono, &st, false, &rd);
        if (r == -ESRCH) {
                sampler_detach(s);
                return r;
        }
        if (r < 0)
                goto fail;
        r = cpu_math_figures(&s->prev, &rd.snap, s->ncpus, s->clk_tck, &cpu);
        if (r < 0)
                goto fail;

        s->prev = rd.snap;
        s->n_out = s->opts.threads ? s->threads[s->cur].n : 0;
        s->cur = !s->cur;
        /* cpu_math took the ticks where threads ended unseen (or lost): the rows miss those */
        if (s->opts.threads && s->have_schedstat && !s->opts.include_children)
                add_ended_row(s, cpu.cpu_core_percent);

        rss_bytes = (double) rd.rss_pages * (double) s->page_size;
        ret_row->cpu_percent = cpu.cpu_percent;
        ret_row->memory_mb = rss_bytes / MIB;
        ret_row->memory_percent = 100.0 * rss_bytes / ((double) s->mem_total_kb * 1024.0);
        ret_row->cpu_core_percent = cpu.cpu_core_percent;
        ret_row->user_core_percent = cpu.user_core_percent;
        ret_row->system_core_percent = cpu.system_core_percent;
        ret_row->pss_mb = rd.pss_mb;
        ret_row->threads = (unsigned) rd.threads;
        ret_row->processes = rd.processes;
        ret_row->pid = s->pid;
        ret_row->wakeups_per_second = rd.wakeups_per_second;
        ret_row->profiler_cpu_percent = NAN;
        ret_row->profiler_rss_mb = NAN;
        return 0;
fail:
        s->need_baseline = true;
        return r;
}
