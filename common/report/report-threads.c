/* SPDX-License-Identifier: MIT */
/*
 * Worker thread overhead (the seed's guide, part 1): every thread's share
 * of time idle (sleeping or waiting, by kind) and working, with its
 * measured CPU from _threads.csv. In an idle scenario a thread below 95 %
 * idle is flagged; when a more specific finding (busy waiting, fast
 * periodic work, blocking in async code) already names the thread, the
 * idle share is added to that finding instead of a second one.
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

static void not_idle(const RpContext *c, uint32_t ti, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        double idle = 100 * rt->idle_s / rt->seconds, top_s = 0, score = 100 * rt->work_s / c->duration;
        uint32_t top = report_thread_top_frame(c, ti, &top_s);
        cJSON *f = finding_for_thread(findings, m->threads[ti].tid);
        char fb[512], sb[32];
        Severity sev = rt->has_cpu || !c->idle_included ? SEV_PROBLEM
                : rt->uncertain                         ? SEV_NOTE
                                                        : SEV_WARNING;

        if (f) {
                /* Already named by a more specific finding: say it there. */
                finding_evidence(f,
                                 "%s is idle %.1f%% of the time, below the %.0f%% an idle scenario expects",
                                 fmt_thread(m, ti), idle, IDLE_TARGET);
                finding_number(f, "thread_idle_percent", idle);
                return;
        }
        if (rt->uncertain)
                f = finding_new(
                        "thread-not-idle", sev, score,
                        "%s may not be idle: %.1f%% of its samples look like work, but most sit at one "
                        "line that may be a wait %s cannot see",
                        fmt_thread(m, ti), 100 - idle, c->sampler);
        else
                f = finding_new("thread-not-idle", sev, score,
                                "%s is idle only %.1f%% of the time in an idle scenario (target: %.0f%%+)",
                                fmt_thread(m, ti), idle, IDLE_TARGET);
        finding_thread(f, m, ti);
        finding_function(f, m, rt->uncertain ? rt->uncertain_frame : top);
        finding_number(f, "idle_percent", idle);
        finding_number(f, "work_percent", 100 - idle);
        finding_number(f, "seconds", rt->seconds);
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

cJSON *report_threads(const RpContext *c, bool idle_scenario, cJSON *findings)
{
        const SsModel *m = c->m;
        cJSON *list = cJSON_CreateArray();
        uint32_t *order = malloc((m->n_threads ? m->n_threads : 1) * sizeof(uint32_t));

        if (!list || !order) {
                free(order);
                return list;
        }
        for (uint32_t i = 0; i < m->n_threads; i++)
                order[i] = i;
        qsort_r_safe(order, m->n_threads, sizeof(uint32_t), thread_order, (void *) c);
        for (size_t k = 0; k < m->n_threads; k++) {
                uint32_t ti = order[k];
                const RpThread *rt = &c->threads[ti];
                cJSON_AddItemToArray(list, thread_json(c, ti));
                if (idle_scenario && rt->seconds >= MIN_SECONDS &&
                    100 * rt->idle_s / rt->seconds < IDLE_TARGET)
                        not_idle(c, ti, findings);
        }
        free(order);
        return list;
}
