/* SPDX-License-Identifier: MIT */
/*
 * Busy waiting (the seed's pattern 1): a thread that never waits while its
 * stacks stay in one loop of cheap checks:
 *
 *   while_loop() ━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 100%
 *   └─ check_condition() ━━━━━━━━━━━━━━━━━━ 98%
 *
 * The loop is the outermost function of the thread's own code under which
 * 90 %+ of its samples fall; "cheap checks" means nearly all samples are at
 * most a few calls below it, in a handful of functions. A CPU-bound worker
 * doing real work has deep and varied stacks there and is not flagged.
 * The thread's measured CPU confirms it (a thread blocked in a C call at
 * the same line would look the same to py-spy).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"

#define IDLE_MAX 5.0    /* percent idle, at most */
#define STEM_SHARE 0.9  /* the loop holds this share of the samples */
#define SHALLOW_DEPTH 3 /* checks are at most this many calls below the loop */
#define SHALLOW_SHARE 0.8
#define FUNCS_MAX 6
#define CPU_CONFIRM 50.0 /* percent of a core */

/* One thread's loop: where it is and what runs below it. */
typedef struct BusyLoop {
        uint32_t root, end;   /* the thread's nodes are [root, end) */
        uint32_t loop, check; /* the loop's node and its busiest child, or SS_NONE */
        double total;         /* the thread's seconds */
        double work;          /* working seconds under the loop */
        double shallow;       /* of them, at most SHALLOW_DEPTH calls below it */
        double loop_self;     /* of them, in the loop itself */
        double check_s;       /* subtree seconds of the check */
        size_t n_funcs;       /* distinct functions below the loop, up to FUNCS_MAX + 1 */
} BusyLoop;

/* Subtree seconds: children come after their parents, so one backward pass adds them up. */
static void subtree_seconds(const SsModel *m, uint32_t root, uint32_t end, double *sub)
{
        for (uint32_t n = root; n < end; n++)
                sub[n - root] = m->nodes[n].self_s;
        for (uint32_t n = end; n-- > root + 1;)
                sub[m->nodes[n].parent - root] += sub[n - root];
}

/* Down the chain of nodes holding STEM_SHARE, to the first that is the thread's own code; SS_NONE if none. */
static uint32_t find_loop(const SsModel *m, const BusyLoop *b, const double *sub)
{
        for (uint32_t n = b->root;;) {
                uint32_t next = SS_NONE;
                if (n != b->root && !frame_is_plumbing(ss_node_frame(m, n)))
                        return n;
                for (uint32_t k = n + 1; k < b->end; k++)
                        if (m->nodes[k].parent == n && sub[k - b->root] >= STEM_SHARE * b->total) {
                                next = k;
                                break;
                        }
                if (next == SS_NONE)
                        return SS_NONE;
                n = next;
        }
}

/* Below the loop: how deep the working samples are, in how many functions. */
static void measure_below(const RpContext *c, BusyLoop *b)
{
        const SsModel *m = c->m;
        uint32_t funcs[FUNCS_MAX + 1];

        for (uint32_t n = b->loop; n < b->end; n++) {
                const SsNode *node = &m->nodes[n];
                uint32_t a = n, d = 0;
                if (node->self_n == 0 || rp_kind(c, n) != WAIT_NONE)
                        continue;
                while (a != b->loop && a != SS_NONE && a != b->root) {
                        a = m->nodes[a].parent;
                        d++;
                }
                if (a != b->loop)
                        continue;
                b->work += node->self_s;
                if (d <= SHALLOW_DEPTH)
                        b->shallow += node->self_s;
                if (n == b->loop) {
                        b->loop_self += node->self_s;
                        continue;
                }
                {
                        uint32_t fn = ss_node_func(m, n);
                        size_t i;
                        for (i = 0; i < b->n_funcs && funcs[i] != fn; i++)
                                ;
                        if (i == b->n_funcs && b->n_funcs <= FUNCS_MAX)
                                funcs[b->n_funcs++] = fn;
                }
        }
}

/* The check: the busiest node right below the loop. */
static void find_check(const SsModel *m, BusyLoop *b, const double *sub)
{
        for (uint32_t k = b->loop + 1; k < b->end; k++)
                if (m->nodes[k].parent == b->loop && sub[k - b->root] > b->check_s) {
                        b->check_s = sub[k - b->root];
                        b->check = k;
                }
}

/* A new busy-wait finding with its headline; check is SS_NONE when no single call stands out. */
static cJSON *busy_headline(const RpContext *c, uint32_t ti, uint32_t check, const char *lb, const char *cb)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        /* Without a CPU figure a thread blocked in a C call (a socket read, time.sleep) looks the same. */
        Severity sev = rt->has_cpu ? SEV_PROBLEM : SEV_NOTE;
        cJSON *f;

        if (rt->has_cpu && check != SS_NONE)
                f = finding_new("busy-wait", sev, rt->cpu_mean,
                                "%s never waits: it spins in %s, calling %s over and over",
                                fmt_thread(m, ti), lb, cb);
        else if (rt->has_cpu)
                f = finding_new("busy-wait", sev, rt->cpu_mean, "%s never waits: it spins in %s",
                                fmt_thread(m, ti), lb);
        else
                f = finding_new(
                        "busy-wait", sev, 100 * rt->work_s / c->duration,
                        "%s never shows a wait: it spins in %s%s%s, or blocks there in a call %s cannot "
                        "see (no CPU figure to tell)",
                        fmt_thread(m, ti), lb, check != SS_NONE ? " calling " : "",
                        check != SS_NONE ? cb : "", c->sampler);
        return f;
}

/* The finding for a thread found spinning in b's loop. */
static void busy_finding(const RpContext *c, uint32_t ti, BusyLoop *b, const double *sub, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        uint32_t loop = b->loop, check = b->check, root = b->root;
        double total = b->total;
        char lb[512], cb[512], sb[32];
        cJSON *f;

        fmt_frame(m, m->nodes[loop].frame, lb, sizeof(lb));
        if (check != SS_NONE && b->check_s > b->loop_self)
                fmt_frame(m, m->nodes[check].frame, cb, sizeof(cb));
        else
                check = SS_NONE;
        f = busy_headline(c, ti, check, lb, cb);
        finding_thread(f, m, ti);
        finding_function(f, m, m->nodes[check != SS_NONE ? check : loop].frame);
        finding_number(f, "idle_percent", 100 * rt->idle_s / rt->seconds);
        finding_number(f, "loop_percent", 100 * sub[loop - root] / total);
        finding_number(f, "check_percent", 100 * b->check_s / total);
        finding_number(f, "seconds", rt->seconds);
        if (check != SS_NONE)
                finding_evidence(f, "idle %.1f%% of %s; %.1f%% of its samples are in %s, %.1f%% in %s",
                                 100 * rt->idle_s / rt->seconds, fmt_seconds(rt->seconds, sb, sizeof(sb)),
                                 100 * sub[loop - root] / total, lb, 100 * b->check_s / total, cb);
        else
                finding_evidence(f, "idle %.1f%% of %s; %.1f%% of its samples are in %s itself",
                                 100 * rt->idle_s / rt->seconds, fmt_seconds(rt->seconds, sb, sizeof(sb)),
                                 100 * sub[loop - root] / total, lb);
        if (b->n_funcs > 0)
                finding_evidence(f,
                                 "%.0f%% of its working samples are at most %d calls below the loop, in %zu "
                                 "function%s: a loop of cheap checks",
                                 100 * b->shallow / b->work, SHALLOW_DEPTH, b->n_funcs,
                                 b->n_funcs == 1 ? "" : "s");
        if (rt->has_cpu) {
                finding_number(f, "cpu_mean", rt->cpu_mean);
                finding_evidence(f, "measured CPU %.1f%% of a core on average (max %.1f%%)", rt->cpu_mean,
                                 rt->cpu_max);
        } else
                finding_evidence(f,
                                 "not confirmed by a measured CPU (no _threads.csv for it): a blocking call "
                                 "%s cannot see would look the same",
                                 c->sampler);
        finding_where(f, "speedscope: thread %s, Left Heavy view: one wide bar for %s, nothing sleeping",
                      fmt_thread(m, ti), m->frames[m->nodes[loop].frame].name);
        finding_fix(
                f,
                "Wait for the condition instead of polling it: a threading.Event or Condition, a queue, or "
                "select on the socket; if it must poll, sleep between checks.");
        cJSON_AddItemToArray(findings, f);
}

static void busy_thread(const RpContext *c, uint32_t ti, double *sub, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        BusyLoop b = {
                .root = m->threads[ti].root,
                .end = m->threads[ti].root,
                .loop = SS_NONE,
                .check = SS_NONE,
                .total = c->threads[ti].seconds,
        };

        while (b.end < m->n_nodes && m->nodes[b.end].thread == ti)
                b.end++;
        subtree_seconds(m, b.root, b.end, sub);
        b.loop = find_loop(m, &b, sub);
        if (b.loop == SS_NONE)
                return;
        measure_below(c, &b);
        if (b.work < STEM_SHARE * b.total || b.shallow < SHALLOW_SHARE * b.work || b.n_funcs > FUNCS_MAX)
                return;
        find_check(m, &b, sub);
        if (rt->has_cpu && rt->cpu_mean < CPU_CONFIRM)
                return; /* it holds the line but does not burn the CPU: a blocking call, not a spin */
        busy_finding(c, ti, &b, sub, findings);
}

void report_busy(const RpContext *c, cJSON *findings)
{
        /* Without --idle a thread's samples are its running time, so its idle share still holds. */
        double *sub = malloc((c->m->n_nodes ? c->m->n_nodes : 1) * sizeof(double));
        if (!sub)
                return;
        for (uint32_t ti = 0; ti < c->m->n_threads; ti++) {
                const RpThread *rt = &c->threads[ti];
                if (rt->seconds >= 1.0 && 100 * rt->idle_s / rt->seconds < IDLE_MAX && !rt->event_loop)
                        busy_thread(c, ti, sub, findings);
        }
        free(sub);
}
