/* SPDX-License-Identifier: MIT */
/*
 * Worker thread overhead (the seed's guide, part 1): every thread's share
 * of time idle (sleeping or waiting, by kind) and working, with its
 * measured CPU from _threads.csv. In an idle scenario a thread below 95 %
 * idle is flagged; when a more specific finding (busy waiting, fast
 * periodic work, blocking in async code) already names the thread, the
 * idle share is added to that finding instead of a second one.
 *
 * A thread-per-request server leaves hundreds of threads in a profile, each
 * seen for a sample or two (issue 17: a 1,291-line report). The table lists
 * the threads that lived (seen for a tenth of the profile or more), the
 * busiest first, 20 at most; when more than 5 are short-lived, they are
 * summed up by their entry function (the first function under threading's
 * machinery: a socketserver's process_request_thread, a pool's worker):
 * how many, the share of a core their samples took, and where mostly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"
#include "sort-util.h"

#define IDLE_TARGET 95.0
#define MIN_SECONDS 1.0
#define LISTED_MAX 20
#define SHORT_SHARE 0.1 /* seen for less than this share of the profile: short-lived */
#define SHORT_LISTED 5  /* so many short-lived threads are listed, not summed up */

static cJSON *thread_json(const RpContext *c, uint32_t ti)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        cJSON *o = json_thread(m, ti), *w;
        char buf[512];

        cJSON_AddNumberToObject(o, "samples", (double) rt->n_seen);
        cJSON_AddNumberToObject(o, "seconds", round_to(rt->seconds, 3));
        /* when it was first seen, on the profile's clock (a thread born mid-session, a later PAM) */
        json_add_number(o, "first_seconds", round_to(rt->first_t, 3));
        json_add_number(o, "first_elapsed_seconds", round_to(rt->first_t + c->thread_offset[ti], 3));
        json_add_number(o, "idle_percent",
                        rt->seconds > 0 ? round_to(100 * rt->idle_s / rt->seconds, 2) : NAN);
        json_add_number(o, "work_percent",
                        rt->seconds > 0 ? round_to(100 * rt->work_s / rt->seconds, 2) : NAN);
        w = cJSON_AddObjectToObject(o, "waits_percent");
        for (int k = WAIT_SLEEP; k < WAIT_KIND_MAX; k++)
                if (rt->wait_s[k] > 0 && rt->seconds > 0)
                        cJSON_AddNumberToObject(w, wait_kind_name((WaitKind) k),
                                                round_to(100 * rt->wait_s[k] / rt->seconds, 2));
        if (rt->top_wait_frame != SS_NONE)
                cJSON_AddItemToObject(o, "waits_most_at", json_frame(m, rt->top_wait_frame));
        if (rt->has_cpu) {
                cJSON_AddNumberToObject(o, "cpu_mean", round_to(rt->cpu_mean, 2));
                cJSON_AddNumberToObject(o, "cpu_max", round_to(rt->cpu_max, 2));
                cJSON_AddNumberToObject(o, "cpu_rows", (double) rt->cpu_rows);
                cJSON_AddStringToObject(o, "comm", rt->comm);
        } else {
                cJSON_AddNullToObject(o, "cpu_mean");
                cJSON_AddNullToObject(o, "cpu_max");
        }
        /* the scheduler's count (_threads.csv), null where the CSV has none */
        json_add_number(o, "wakeups_per_second", rt->has_wakeups ? round_to(rt->wakeups_mean, 1) : NAN);
        json_add_number(o, "wakeups_max", rt->has_wakeups ? round_to(rt->wakeups_max, 1) : NAN);
        cJSON_AddBoolToObject(o, "event_loop", rt->event_loop);
        if (rt->inferred_frame != SS_NONE)
                cJSON_AddStringToObject(o, "inferred_wait_at",
                                        fmt_frame(m, rt->inferred_frame, buf, sizeof(buf)));
        if (rt->uncertain)
                cJSON_AddStringToObject(o, "uncertain_at",
                                        fmt_frame(m, rt->uncertain_frame, buf, sizeof(buf)));
        return o;
}

static cJSON *finding_for_thread(cJSON *findings, long tid)
{
        cJSON *f;

        if (tid <= 0)
                return NULL;
        cJSON_ArrayForEach(f, findings)
        {
                if (finding_tid(f) == tid)
                        return f;
        }
        return NULL;
}

/* A new thread-not-idle finding with its headline. */
static cJSON *not_idle_headline(const RpContext *c, uint32_t ti, double idle)
{
        const RpThread *rt = &c->threads[ti];
        double score = 100 * rt->work_s / c->duration;
        Severity sev = rt->has_cpu || !c->idle_included ? SEV_PROBLEM
                : rt->uncertain                         ? SEV_NOTE
                                                        : SEV_WARNING;

        if (rt->uncertain)
                return finding_new(
                        "thread-not-idle", sev, score,
                        "%s may not be idle: %.1f%% of its samples look like work, but most sit at "
                        "one line that may be a wait %s cannot see",
                        fmt_thread(c->m, ti), 100 - idle, c->sampler);
        return finding_new("thread-not-idle", sev, score,
                           "%s is idle only %.1f%% of the time in an idle scenario (target: %.0f%%+)",
                           fmt_thread(c->m, ti), idle, IDLE_TARGET);
}

/* The evidence of a thread-not-idle finding: its CPU, where it works, and a doubt about a wait. */
static void not_idle_evidence(const RpContext *c, uint32_t ti, cJSON *f, uint32_t top, double top_s)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        char fb[512], sb[32];

        if (rt->has_cpu) {
                finding_number(f, "cpu_mean", rt->cpu_mean);
                finding_evidence(
                        f,
                        "its measured CPU: %.1f%% of a core on average, %.1f%% at most (%zu rows of "
                        "the threads CSV)",
                        rt->cpu_mean, rt->cpu_max, rt->cpu_rows);
        } else
                finding_evidence(f, "no measured CPU for it (no _threads.csv row for tid %ld)",
                                 m->threads[ti].tid);
        if (top != SS_NONE)
                finding_evidence(f, "most of its work is in %s: %s, %.1f%% of its time",
                                 fmt_frame(m, top, fb, sizeof(fb)), fmt_seconds(top_s, sb, sizeof(sb)),
                                 100 * top_s / rt->seconds);
        if (rt->uncertain)
                finding_evidence(
                        f,
                        "%s holds %.0f%% of its work in stretches of 200 ms or more; with the threads "
                        "CSV (or py-spy's --native) the report could tell a sleep from work",
                        fmt_frame(m, rt->uncertain_frame, fb, sizeof(fb)),
                        100 * rt->uncertain_s / rt->work_s);
}

static void not_idle(const RpContext *c, uint32_t ti, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        double idle = 100 * rt->idle_s / rt->seconds, top_s = 0;
        uint32_t top = report_thread_top_frame(c, ti, &top_s);
        cJSON *f = finding_for_thread(findings, m->threads[ti].tid);

        if (f) {
                /* Already named by a more specific finding: say it there. */
                finding_evidence(f,
                                 "%s is idle %.1f%% of the time, below the %.0f%% an idle scenario expects",
                                 fmt_thread(m, ti), idle, IDLE_TARGET);
                finding_number(f, "thread_idle_percent", idle);
                return;
        }
        f = not_idle_headline(c, ti, idle);
        finding_thread(f, m, ti);
        finding_function(f, m, rt->uncertain ? rt->uncertain_frame : top);
        finding_number(f, "idle_percent", idle);
        finding_number(f, "work_percent", 100 - idle);
        finding_number(f, "seconds", rt->seconds);
        not_idle_evidence(c, ti, f, top, top_s);
        finding_where(
                f,
                "speedscope: thread %s, Left Heavy view; the wide bars that are not sleeping or waiting "
                "are its work",
                fmt_thread(m, ti));
        finding_fix(
                f,
                "In an idle scenario a thread should wait (on a queue, an event, a socket) 95%+ of the time: "
                "look for polling loops, short timeouts and work that could be event-driven.");
        cJSON_AddItemToArray(findings, f);
}

static int thread_order(const void *a, const void *b, void *arg)
{
        const RpContext *c = arg;
        const RpThread *x = &c->threads[*(const uint32_t *) a], *y = &c->threads[*(const uint32_t *) b];

        if (x->main != y->main)
                return x->main ? -1 : 1;
        return x->work_s < y->work_s ? 1 : x->work_s > y->work_s ? -1 : 0;
}

uint32_t report_thread_entry(const RpContext *c, uint32_t ti)
{
        const SsModel *m = c->m;
        uint32_t best = SS_NONE, end = m->threads[ti].root;
        double *acc;

        while (end < m->n_nodes && m->nodes[end].thread == ti)
                end++;
        acc = calloc(m->n_frames ? m->n_frames : 1, sizeof(double));
        if (!acc)
                return SS_NONE;
        for (uint32_t n = m->threads[ti].root; n < end; n++) {
                uint32_t entry = SS_NONE;
                bool partial = false;
                if (m->nodes[n].self_n == 0 || c->kind[n] >= WAIT_KIND_MAX)
                        continue;
                for (uint32_t a = n; a != SS_NONE && m->nodes[a].frame != SS_NONE; a = m->nodes[a].parent) {
                        const SsFrame *f = ss_node_frame(m, a);
                        partial = partial || frame_is_invalid(f);
                        if (!file_is(f->file, "threading.py"))
                                entry = m->nodes[a].frame;
                }
                if (partial || entry == SS_NONE)
                        continue; /* a stack read in part has lost its root */
                acc[entry] += m->nodes[n].self_s;
                if (best == SS_NONE || acc[entry] > acc[best])
                        best = entry;
        }
        free(acc);
        return best;
}

static bool same_func(const SsModel *m, uint32_t a, uint32_t b)
{
        return a == b || (a != SS_NONE && b != SS_NONE && m->frames[a].func == m->frames[b].func);
}

typedef struct Group {
        uint32_t entry; /* a frame, SS_NONE: unknown */
        size_t threads;
        double seen_s, work_s, longest_s;
        uint32_t top; /* the function where its work mostly is */
        double top_s;
} Group;

/* The busiest function of group g's threads (of order[from, n)) by working self time, at its first line seen. */
static void group_top(const RpContext *c, const uint32_t *order, const uint32_t *entry, size_t from,
                      size_t n, Group *g, double *acc, uint32_t *line)
{
        const SsModel *m = c->m;
        uint32_t top_func = SS_NONE;

        memset(acc, 0, (m->n_funcs ? m->n_funcs : 1) * sizeof(double));
        for (size_t k = from; k < n; k++) {
                uint32_t ti = order[k];
                if (!same_func(m, entry[k], g->entry))
                        continue;
                for (uint32_t nd = m->threads[ti].root; nd < m->n_nodes && m->nodes[nd].thread == ti; nd++) {
                        uint32_t f, fn;
                        if (m->nodes[nd].self_n == 0 || rp_kind(c, nd) != WAIT_NONE)
                                continue;
                        f = rp_own_frame(c, nd);
                        fn = m->frames[f].func;
                        if (acc[fn] == 0)
                                line[fn] = f;
                        acc[fn] += m->nodes[nd].self_s;
                        if (top_func == SS_NONE || acc[fn] > acc[top_func])
                                top_func = fn;
                }
        }
        if (top_func != SS_NONE) {
                g->top = line[top_func];
                g->top_s = acc[top_func];
        }
}

/* A group's entry of the thread_groups section. */
static cJSON *group_json(const RpContext *c, const Group *g, bool short_lived)
{
        const SsModel *m = c->m;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddBoolToObject(o, "short_lived", short_lived);
        cJSON_AddNumberToObject(o, "threads", (double) g->threads);
        if (g->entry != SS_NONE)
                cJSON_AddItemToObject(o, "entry", json_frame(m, g->entry));
        else
                cJSON_AddNullToObject(o, "entry");
        cJSON_AddNumberToObject(o, "seconds", round_to(g->seen_s, 3));
        cJSON_AddNumberToObject(o, "work_seconds", round_to(g->work_s, 3));
        cJSON_AddNumberToObject(o, "longest_seconds", round_to(g->longest_s, 3));
        json_add_number(o, "core_percent",
                        c->duration > 0 ? round_to(100 * g->work_s / c->duration, 3) : NAN);
        if (g->top != SS_NONE) {
                cJSON_AddItemToObject(o, "mostly_in", json_frame(m, g->top));
                json_add_number(o, "mostly_in_percent",
                                g->work_s > 0 ? round_to(100 * g->top_s / g->work_s, 1) : NAN);
        }
        return o;
}

/* The threads order[from..n) summed up by entry function (entry[] parallel to order), a JSON array. */
static cJSON *groups_of(const RpContext *c, const uint32_t *order, const uint32_t *entry, size_t from,
                        size_t n, bool short_lived, cJSON *into)
{
        const SsModel *m = c->m;
        Group *g = calloc(n - from + 1, sizeof(Group));
        double *acc = calloc(m->n_funcs ? m->n_funcs : 1, sizeof(double));
        uint32_t *line = malloc((m->n_funcs ? m->n_funcs : 1) * sizeof(uint32_t));
        size_t ng = 0;

        if (!g || !acc || !line)
                goto out;
        for (size_t k = from; k < n; k++) {
                const RpThread *rt = &c->threads[order[k]];
                size_t i;
                for (i = 0; i < ng && !same_func(m, g[i].entry, entry[k]); i++)
                        ;
                if (i == ng)
                        g[ng++] = (Group){ .entry = entry[k], .top = SS_NONE };
                g[i].threads++;
                g[i].seen_s += rt->seconds;
                g[i].work_s += rt->work_s;
                g[i].longest_s = fmax(g[i].longest_s, rt->seconds);
        }
        for (size_t i = 0; i < ng; i++) {
                group_top(c, order, entry, from, n, &g[i], acc, line);
                cJSON_AddItemToArray(into, group_json(c, &g[i], short_lived));
        }
out:
        free(g);
        free(acc);
        free(line);
        return into;
}

cJSON *report_threads(const RpContext *c, bool idle_scenario, cJSON *findings, cJSON **ret_groups)
{
        const SsModel *m = c->m;
        cJSON *list = cJSON_CreateArray();
        uint32_t *order = malloc((m->n_threads ? m->n_threads : 1) * sizeof(uint32_t));
        uint32_t *entry = malloc((m->n_threads ? m->n_threads : 1) * sizeof(uint32_t));
        size_t n = 0, n_long = 0, n_listed;

        *ret_groups = NULL;
        if (!list || !order || !entry)
                goto out;
        for (uint32_t i = 0; i < m->n_threads; i++)
                if (!c->threads[i].garbage)
                        order[n++] = i;
        qsort_r_safe(order, n, sizeof(uint32_t), thread_order, (void *) c);
        for (size_t k = 0; k < n; k++) {
                const RpThread *rt = &c->threads[order[k]];
                if (idle_scenario && rt->seconds >= MIN_SECONDS &&
                    100 * rt->idle_s / rt->seconds < IDLE_TARGET)
                        not_idle(c, order[k], findings);
        }
        /* The threads that lived first (each part stays busiest first), then the short-lived. */
        for (size_t k = 0; k < n; k++)
                if (c->threads[order[k]].main ||
                    (c->threads[order[k]].n_seen > 0 &&
                     c->threads[order[k]].seconds >= SHORT_SHARE * c->duration)) {
                        uint32_t t = order[k];
                        memmove(order + n_long + 1, order + n_long, (k - n_long) * sizeof(uint32_t));
                        order[n_long++] = t;
                }
        n_listed = n - n_long <= SHORT_LISTED ? n : n_long;
        if (n_listed > LISTED_MAX)
                n_listed = LISTED_MAX;
        for (size_t k = 0; k < n_listed; k++)
                cJSON_AddItemToArray(list, thread_json(c, order[k]));
        if (n_listed < n) {
                cJSON *groups = cJSON_CreateArray();
                for (size_t k = n_listed; k < n; k++)
                        entry[k] = report_thread_entry(c, order[k]);
                if (n_listed < n_long)
                        groups_of(c, order, entry, n_listed, n_long, false, groups);
                groups_of(c, order, entry, n_listed > n_long ? n_listed : n_long, n, true, groups);
                *ret_groups = groups;
        }
out:
        free(order);
        free(entry);
        return list;
}
