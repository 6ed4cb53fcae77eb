/* SPDX-License-Identifier: MIT */
#include "report-profile.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sort-util.h"

#define INFER_MIN_GAP 0.05   /* infer only when stacks and /proc disagree by 5 points or more */
#define INFER_SLACK 0.02     /* stop when what is left as working is within 2 points of /proc */
#define INFER_OVERSHOOT 0.05 /* never leave less working than /proc says, by more than 5 points */
#define INFER_MIN_RUNS 3.0   /* a waiting line holds at least 3 samples in a row, on average */
#define UNCERTAIN_MEAN_S 0.2 /* without /proc: a line held 200 ms at a time... */
#define UNCERTAIN_SHARE 0.5  /* ...for half the thread's work makes its idle share uncertain */

typedef struct LineStat {
        double secs;
        uint32_t stretches;
} LineStat;

typedef struct Scratch {
        LineStat *line; /* per frame */
        uint32_t *touched;
        size_t n_touched;
} Scratch;

static void scratch_reset(Scratch *s)
{
        for (size_t i = 0; i < s->n_touched; i++)
                s->line[s->touched[i]] = (LineStat){ 0 };
        s->n_touched = 0;
}

/* Linux gives no thread an id above PID_MAX_LIMIT (2^22): a profile of one is a failed read. */
static bool thread_is_garbage(const SsThread *t)
{
        return t->tid > 4194304L;
}

static bool thread_is_main(const SsThread *t)
{
        return (t->name && strcmp(t->name, "MainThread") == 0) || (t->tid > 0 && t->tid == t->pid);
}

/* Per leaf line of thread ti's working samples: seconds and stretches of consecutive samples. */
static void line_stats(const RpContext *c, uint32_t ti, Scratch *s)
{
        const SsThread *t = &c->m->threads[ti];
        uint32_t prev = SS_NONE;

        scratch_reset(s);
        for (size_t i = 0; i < t->n_runs; i++) {
                uint32_t node = t->runs[i].node, f = c->m->nodes[node].frame;
                if (f == SS_NONE || rp_kind(c, node) != WAIT_NONE) {
                        prev = SS_NONE;
                        continue;
                }
                if (s->line[f].secs == 0 && s->line[f].stretches == 0)
                        s->touched[s->n_touched++] = f;
                s->line[f].secs += ss_run_seconds(t, i);
                if (f != prev)
                        s->line[f].stretches++;
                prev = f;
        }
}

static int by_mean_desc(const void *a, const void *b, void *arg)
{
        const LineStat *l = arg;
        const LineStat *x = &l[*(const uint32_t *) a], *y = &l[*(const uint32_t *) b];
        double mx = x->secs / x->stretches, my = y->secs / y->stretches;

        return mx < my ? 1 : mx > my ? -1 : 0;
}

static void mark_line(RpContext *c, uint32_t ti, uint32_t frame)
{
        const SsThread *t = &c->m->threads[ti];

        for (size_t i = 0; i < t->n_runs; i++) {
                uint32_t node = t->runs[i].node;
                if (c->m->nodes[node].frame == frame && c->kind[node] == WAIT_NONE)
                        c->kind[node] = WAIT_INFERRED;
        }
}

static void infer(RpContext *c, uint32_t ti, Scratch *s)
{
        RpThread *rt = &c->threads[ti];
        double secs = rt->seconds, cpu = rt->cpu_mean / 100.0, min_mean = INFER_MIN_RUNS * c->interval;

        line_stats(c, ti, s);
        qsort_r_safe(s->touched, s->n_touched, sizeof(uint32_t), by_mean_desc, s->line);
        if (!rt->has_cpu) {
                /* The longest-held line, if it is most of the work: probably a wait py-spy cannot see. */
                for (size_t i = 0; i < s->n_touched; i++) {
                        LineStat *l = &s->line[s->touched[i]];
                        if (l->secs / l->stretches < UNCERTAIN_MEAN_S)
                                break;
                        if (l->secs >= UNCERTAIN_SHARE * rt->work_s && rt->work_s >= 0.05 * secs) {
                                rt->uncertain = true;
                                rt->uncertain_frame = s->touched[i];
                                rt->uncertain_s = l->secs;
                                break;
                        }
                }
                return;
        }
        if (rt->work_s / secs - cpu < INFER_MIN_GAP)
                return;
        for (size_t i = 0; i < s->n_touched; i++) {
                uint32_t f = s->touched[i];
                LineStat *l = &s->line[f];
                if (l->secs / l->stretches < min_mean)
                        break;
                if ((rt->work_s - l->secs) / secs < cpu - INFER_OVERSHOOT)
                        continue; /* that line is real work: taking it would leave less than /proc measured */
                mark_line(c, ti, f);
                rt->work_s -= l->secs;
                rt->idle_s += l->secs;
                rt->wait_s[WAIT_NONE] -= l->secs;
                rt->wait_s[WAIT_INFERRED] += l->secs;
                if (rt->inferred_frame == SS_NONE)
                        rt->inferred_frame = f;
                if (rt->work_s / secs <= cpu + INFER_SLACK)
                        break;
        }
}

/* Whether the stack that ends at node has an <invalid frame> above its leaf: read only in part. */
static bool partly_read(const SsModel *m, uint32_t node)
{
        for (uint32_t a = m->nodes[node].parent; a != SS_NONE && m->nodes[a].frame != SS_NONE;
             a = m->nodes[a].parent)
                if (frame_is_invalid(ss_node_frame(m, a)))
                        return true;
        return false;
}

static void thread_totals(RpContext *c, uint32_t ti)
{
        const SsThread *t = &c->m->threads[ti];
        RpThread *rt = &c->threads[ti];
        double loop_s = 0, seen = 0;

        rt->main = thread_is_main(t);
        rt->top_wait_frame = rt->inferred_frame = rt->uncertain_frame = SS_NONE;
        rt->first_t = NAN;
        for (size_t i = 0; i < t->n_runs; i++) {
                uint32_t node = t->runs[i].node;
                double s = ss_run_seconds(t, i);
                switch (c->kind[node]) {
                case RP_ABSENT:
                        rt->absent_s += s;
                        break;
                case RP_UNREADABLE:
                        rt->unreadable_s += s;
                        rt->n_unreadable += t->runs[i].n;
                        break;
                default:
                        rt->wait_s[rp_kind(c, node)] += s;
                        rt->n_seen += t->runs[i].n;
                        seen += s;
                        if (!isfinite(rt->first_t))
                                rt->first_t = t->runs[i].t;
                        if (partly_read(c->m, node))
                                rt->n_partial += t->runs[i].n;
                }
        }
        rt->seconds = seen;
        for (uint32_t n = t->root; n < c->m->n_nodes && c->m->nodes[n].thread == ti; n++) {
                /* Nodes of a thread are contiguous: a profile's samples are read together. */
                const SsNode *node = &c->m->nodes[n];
                if (node->self_n == 0 || c->kind[n] >= WAIT_KIND_MAX)
                        continue;
                for (uint32_t a = n; a != SS_NONE && c->m->nodes[a].frame != SS_NONE;
                     a = c->m->nodes[a].parent)
                        if (classify_loop(ss_node_frame(c->m, a)) == LOOP_DRIVER) {
                                loop_s += node->self_s;
                                break;
                        }
        }
        rt->event_loop = loop_s >= 0.1 * seen && seen > 0;
        rt->work_s = rt->wait_s[WAIT_NONE];
        rt->idle_s = seen - rt->work_s;
        if (!c->idle_included) {
                /* Without --idle py-spy kept only running threads' samples: the rest of the time it waited. */
                rt->seconds = c->duration > seen ? c->duration : seen;
                rt->idle_s = rt->seconds - rt->work_s;
        }
}

static void top_wait_frame(RpContext *c, uint32_t ti, Scratch *s)
{
        const SsThread *t = &c->m->threads[ti];
        RpThread *rt = &c->threads[ti];
        double best = 0;

        scratch_reset(s);
        for (size_t i = 0; i < t->n_runs; i++) {
                uint32_t node = t->runs[i].node, f = c->m->nodes[node].frame;
                if (f == SS_NONE || !rp_waits(c, node))
                        continue;
                if (s->line[f].secs == 0 && s->line[f].stretches == 0)
                        s->touched[s->n_touched++] = f;
                s->line[f].stretches++;
                s->line[f].secs += ss_run_seconds(t, i);
                if (s->line[f].secs > best) {
                        best = s->line[f].secs;
                        rt->top_wait_frame = f;
                }
        }
}

static void join_cpu(RpContext *c, uint32_t ti, const ThreadCpu *cpu, size_t n_cpu)
{
        const SsThread *t = &c->m->threads[ti];
        RpThread *rt = &c->threads[ti];

        for (size_t k = 0; t->tid > 0 && k < n_cpu; k++)
                if (cpu[k].tid == t->tid && cpu[k].n > 0) {
                        rt->has_cpu = cpu[k].n >= 3;
                        rt->cpu_mean = cpu[k].sum / (double) cpu[k].n;
                        rt->cpu_max = cpu[k].max;
                        rt->cpu_rows = cpu[k].n;
                        rt->has_wakeups = cpu[k].wake_n >= 3;
                        rt->wakeups_mean = cpu[k].wake_n ? cpu[k].wake_sum / (double) cpu[k].wake_n : NAN;
                        rt->wakeups_max = cpu[k].wake_n ? cpu[k].wake_max : NAN;
                        snprintf(rt->comm, sizeof(rt->comm), "%s", cpu[k].name);
                        return;
                }
}

/* Each thread's offset on the CSV's clock: the session's, or its own run's when o names its pid. */
static void thread_offsets(RpContext *c, const RpOptions *o)
{
        const SsModel *m = c->m;

        for (size_t i = 0; i < m->n_threads; i++) {
                c->thread_offset[i] = c->offset;
                for (size_t k = 0; o && k < o->n_run_pids && m->threads[i].pid > 0; k++)
                        if (o->run_pid[k] == m->threads[i].pid)
                                c->thread_offset[i] = o->run_pid_elapsed[k];
        }
}

/* What each leaf is: absent, unreadable, or its wait kind (or work); true if any leaf waits. */
static bool classify_leaves(RpContext *c)
{
        const SsModel *m = c->m;
        bool any_wait = false;

        for (uint32_t n = 0; n < m->n_nodes; n++)
                if (m->nodes[n].self_n > 0) {
                        const SsFrame *leaf = ss_node_frame(m, n);
                        if (!leaf)
                                c->kind[n] = RP_ABSENT;
                        else if (frame_is_invalid(leaf) ||
                                 thread_is_garbage(&m->threads[m->nodes[n].thread]))
                                c->kind[n] = RP_UNREADABLE;
                        else
                                c->kind[n] = (uint8_t) classify_wait(m, n);
                        any_wait = any_wait || rp_waits(c, n);
                }
        return any_wait;
}

/* Which threads are garbage, the longest thread's time as the duration, the mean sampling interval. */
static void thread_times(RpContext *c)
{
        const SsModel *m = c->m;
        double total_s = 0;
        uint64_t n_seen = 0;

        for (size_t i = 0; i < m->n_threads; i++) {
                const SsThread *t = &m->threads[i];
                c->threads[i].garbage = thread_is_garbage(t);
                for (size_t k = 0; k < t->n_runs; k++)
                        if (c->kind[t->runs[k].node] < WAIT_KIND_MAX) {
                                total_s += ss_run_seconds(t, k);
                                n_seen += t->runs[k].n;
                        }
                if (t->seconds > c->duration)
                        c->duration = t->seconds;
        }
        c->interval = n_seen ? total_s / (double) n_seen : 0.01;
}

int rp_context_build(const SsModel *m, const ThreadCpu *cpu, size_t n_cpu, const RpOptions *o,
                     RpContext *ret)
{
        RpContext c = { .m = m, .offset = o && isfinite(o->offset) ? o->offset : 0 };
        Scratch s = { 0 };
        bool any_wait;
        int r = -ENOMEM;

        c.kind = calloc(m->n_nodes ? m->n_nodes : 1, 1);
        c.threads = calloc(m->n_threads ? m->n_threads : 1, sizeof(RpThread));
        c.thread_offset = calloc(m->n_threads ? m->n_threads : 1, sizeof(double));
        s.line = calloc(m->n_frames ? m->n_frames : 1, sizeof(LineStat));
        s.touched = malloc((m->n_frames ? m->n_frames : 1) * sizeof(uint32_t));
        if (!c.kind || !c.threads || !c.thread_offset || !s.line || !s.touched)
                goto out;
        thread_offsets(&c, o);
        any_wait = classify_leaves(&c);
        thread_times(&c);
        c.sampler = o && o->sampler ? o->sampler : "the sampler";
        c.idle_included = o && o->idle >= 0 ? o->idle == 1 : any_wait;
        if (!c.idle_included && o && isfinite(o->duration) && o->duration > c.duration)
                c.duration = o->duration;
        for (uint32_t i = 0; i < m->n_threads; i++) {
                thread_totals(&c, i);
                join_cpu(&c, i, cpu, n_cpu);
                if (c.idle_included && c.threads[i].seconds > 0)
                        infer(&c, i, &s);
                top_wait_frame(&c, i, &s);
        }
        r = 0;
out:
        free(s.line);
        free(s.touched);
        if (r < 0) {
                rp_context_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

void rp_context_done(RpContext *c)
{
        free(c->kind);
        free(c->threads);
        free(c->thread_offset);
        c->kind = NULL;
        c->threads = NULL;
        c->thread_offset = NULL;
}

uint32_t rp_own_frame(const RpContext *c, uint32_t node)
{
        uint32_t leaf = c->m->nodes[node].frame;

        for (uint32_t a = node; a != SS_NONE && c->m->nodes[a].frame != SS_NONE; a = c->m->nodes[a].parent) {
                const SsFrame *f = ss_node_frame(c->m, a);
                if (!frame_is_plumbing(f) && !frame_is_stdlib(f))
                        return c->m->nodes[a].frame;
        }
        return leaf;
}

static int hit_desc(const void *a, const void *b)
{
        double x = ((const RpHit *) a)->seconds, y = ((const RpHit *) b)->seconds;

        return x < y ? 1 : x > y ? -1 : 0;
}

int rp_window_top(const RpContext *c, double s0, double s1, RpHit *ret, size_t max, double *ret_total)
{
        RpHit *hits = NULL;
        size_t n = 0, cap = 0;
        double total = 0;

        for (uint32_t ti = 0; ti < c->m->n_threads; ti++) {
                const SsThread *t = &c->m->threads[ti];
                double t0 = s0 - c->thread_offset[ti], t1 = s1 - c->thread_offset[ti];
                size_t lo = 0, hi = t->n_runs;
                while (lo < hi) { /* the first run that ends after t0 */
                        size_t mid = (lo + hi) / 2;
                        if (t->runs[mid].t + ss_run_seconds(t, mid) <= t0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                for (size_t i = lo; i < t->n_runs && t->runs[i].t < t1; i++) {
                        double a = fmax(t->runs[i].t, t0), b = fmin(t->runs[i].t + ss_run_seconds(t, i), t1);
                        uint32_t node = t->runs[i].node, f;
                        size_t k;
                        if (b <= a || rp_kind(c, node) != WAIT_NONE)
                                continue;
                        f = rp_own_frame(c, node);
                        for (k = 0; k < n && !(hits[k].thread == ti && hits[k].frame == f); k++)
                                ;
                        if (k == n) {
                                if (n == cap) {
                                        size_t nc = cap ? cap * 2 : 32;
                                        RpHit *h = realloc(hits, nc * sizeof(RpHit));
                                        if (!h) {
                                                free(hits);
                                                return -ENOMEM;
                                        }
                                        hits = h;
                                        cap = nc;
                                }
                                hits[n++] = (RpHit){ .thread = ti, .frame = f };
                        }
                        hits[k].seconds += b - a;
                        total += b - a;
                }
        }
        if (n)
                qsort_safe(hits, n, sizeof(RpHit), hit_desc);
        if (n > max)
                n = max;
        if (n)
                memcpy(ret, hits, n * sizeof(RpHit));
        free(hits);
        if (ret_total)
                *ret_total = total;
        return (int) n;
}
