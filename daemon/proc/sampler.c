/* SPDX-License-Identifier: MIT */
#include "sampler.h"

#include <fcntl.h>
#include <math.h>

#include "proc-cpus.h"
#include "proc-meminfo.h"
#include "proc-read.h"

#include "sampler-internal.h"

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

int sampler_grow_threads(Sampler *s, size_t cap)
{
        if (GROW(s->threads[0].rt, cap) < 0 || GROW(s->threads[1].rt, cap) < 0 ||
            GROW(s->threads[0].meta, cap) < 0 || GROW(s->threads[1].meta, cap) < 0 ||
            GROW(s->out, cap + 1) < 0) /* + the row of the threads that ended */
                return -ENOMEM;
        s->threads_cap = cap;
        return 0;
}

int sampler_grow_tree(Sampler *s, size_t cap)
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
                r = sampler_grow_threads(s, INITIAL_THREADS);
                if (r < 0)
                        return r;
        }
        if (opts->include_children) {
                /* Not the borrowed descriptor: listing moves its offset. */
                s->root_fd = proc_open(opts->proc_fd, ".", O_DIRECTORY);
                if (s->root_fd < 0)
                        return s->root_fd;
                r = sampler_grow_tree(s, INITIAL_PROCS);
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

int sampler_read_target_stat(Sampler *s, ProcStat *ret)
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
                r = sampler_sample_threads(s, interval, &exact, &delta_ns, &wakeups);
                if (r < 0)
                        return r;
                rd->snap.runtime_exact = exact;
                rd->snap.runtime_ns += delta_ns;
                if (s->have_schedstat && !baseline)
                        rd->wakeups_per_second = cpu_math_per_second(wakeups, interval);
        }
        if (s->opts.include_children) {
                r = sampler_sample_tree(s, st, baseline, rd);
                if (r < 0)
                        return r;
        }
        if (!baseline)
                rd->pss_mb = sampler_sample_pss(s, now, interval);
        return 0;
}

static int baseline(Sampler *s, usec_t now)
{
        ProcStat st;
        Reading rd;
        int r;

        r = sampler_read_target_stat(s, &st);
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

int sampler_attach_since_start(Sampler *s, pid_t pid, usec_t now_mono)
{
        usec_t age, born_boot, boot = now(CLOCK_BOOTTIME);
        int r;

        if (s->opts.threads || s->opts.include_children)
                return -EINVAL;
        r = sampler_attach(s, pid, now_mono);
        if (r < 0)
                return r;
        born_boot = s->prev.starttime * USEC_PER_SEC / s->clk_tck;
        age = boot > born_boot ? boot - born_boot : 0;
        if (age == 0 || age >= now_mono)
                return 0; /* no younger than a tick, or older than the clock: the baseline stays */
        s->prev.utime = s->prev.stime = 0;
        s->prev.runtime_ns = 0;
        s->prev.runtime_exact = false;
        s->prev.mono = now_mono - age;
        return 0;
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

        r = sampler_read_target_stat(s, &st);
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
                sampler_add_ended_row(s, cpu.cpu_core_percent);

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
