/* SPDX-License-Identifier: MIT */
/*
 * Hot code: where the working samples are. Self time is the function a
 * stack ends in; total time counts a function once per sample wherever it
 * is on the stack. Waiting samples are left out (time.sleep would top
 * every list), and so is plumbing (threading's run, the asyncio loop) in
 * the total list, since it is under everything. A function is (name,
 * file); its line is the line that holds most of its time.
 *
 * A sampler in wall-clock mode (Austin, py-spy --idle) also sees a thread
 * that waits for the GIL or for a CPU at the line it will run next: on a
 * busy machine a thread's working samples can add up to more than /proc
 * measured it used (a uvicorn loop at 58 % by samples, 40 % measured). Where
 * the thread's CPU is known and lower, its samples are scaled down to it,
 * so "% of a core" is the CPU the code used, not the time it held a line.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"
#include "sort-util.h"

#define TOP_OVERALL 10
#define TOP_THREAD 5
#define THREADS_MAX 15 /* threads with their own lists, the busiest */

typedef struct Acc {
        double *self, *total;   /* per function */
        double *fself, *ftotal; /* per frame, to pick each function's line */
        uint32_t *stamp;        /* per function: the last node that counted it */
        uint32_t *fstamp;
} Acc;

static int acc_new(const SsModel *m, Acc *a)
{
        size_t nf = m->n_funcs ? m->n_funcs : 1, nr = m->n_frames ? m->n_frames : 1;

        a->self = calloc(nf, sizeof(double));
        a->total = calloc(nf, sizeof(double));
        a->fself = calloc(nr, sizeof(double));
        a->ftotal = calloc(nr, sizeof(double));
        a->stamp = malloc(nf * sizeof(uint32_t));
        a->fstamp = malloc(nr * sizeof(uint32_t));
        if (!a->self || !a->total || !a->fself || !a->ftotal || !a->stamp || !a->fstamp)
                return -ENOMEM;
        memset(a->stamp, 0xff, nf * sizeof(uint32_t));
        memset(a->fstamp, 0xff, nr * sizeof(uint32_t));
        return 0;
}

static void acc_free(Acc *a)
{
        free(a->self);
        free(a->total);
        free(a->fself);
        free(a->ftotal);
        free(a->stamp);
        free(a->fstamp);
}

static void acc_reset(const SsModel *m, Acc *a)
{
        memset(a->self, 0, m->n_funcs * sizeof(double));
        memset(a->total, 0, m->n_funcs * sizeof(double));
        memset(a->fself, 0, m->n_frames * sizeof(double));
        memset(a->ftotal, 0, m->n_frames * sizeof(double));
}

/* Adds the working samples of thread ti. */
static double acc_thread(const RpContext *c, uint32_t ti, Acc *a)
{
        const SsModel *m = c->m;
        double work = 0;

        const RpThread *rt = &c->threads[ti];
        double scale =
                rt->has_cpu && rt->work_s > 0 ? fmin(1, rt->cpu_mean / 100 * rt->seconds / rt->work_s) : 1;

        for (uint32_t n = m->threads[ti].root; n < m->n_nodes && m->nodes[n].thread == ti; n++) {
                const SsNode *node = &m->nodes[n];
                double w = node->self_s * scale;
                if (node->self_n == 0 || node->frame == SS_NONE || rp_kind(c, n) != WAIT_NONE)
                        continue;
                work += w;
                a->self[m->frames[node->frame].func] += w;
                a->fself[node->frame] += w;
                for (uint32_t p = n; p != SS_NONE && m->nodes[p].frame != SS_NONE; p = m->nodes[p].parent) {
                        uint32_t fr = m->nodes[p].frame, fn = m->frames[fr].func;
                        if (a->stamp[fn] != n) {
                                a->stamp[fn] = n;
                                a->total[fn] += w;
                        }
                        if (a->fstamp[fr] != n) {
                                a->fstamp[fr] = n;
                                a->ftotal[fr] += w;
                        }
                }
        }
        return work;
}

/* Each function's line: the frame of it that holds the most of val. */
static uint32_t best_frame(const SsModel *m, const double *fval, uint32_t func)
{
        uint32_t best = SS_NONE;

        for (uint32_t f = 0; f < m->n_frames; f++)
                if (m->frames[f].func == func && (best == SS_NONE || fval[f] > fval[best]))
                        best = f;
        return best;
}

static cJSON *top_list(const RpContext *c, const double *val, const double *fval, size_t k, double work,
                       bool skip_plumbing)
{
        const SsModel *m = c->m;
        cJSON *list = cJSON_CreateArray();
        uint32_t *idx = malloc((m->n_funcs ? m->n_funcs : 1) * sizeof(uint32_t));
        size_t n = 0;

        if (!list || !idx) {
                free(idx);
                return list;
        }
        /* A partial selection: k is small. */
        for (uint32_t f = 0; f < m->n_funcs; f++)
                if (val[f] > 0)
                        idx[n++] = f;
        for (size_t i = 0; i < k && i < n; i++) {
                size_t best = i;
                for (size_t j = i + 1; j < n; j++)
                        if (val[idx[j]] > val[idx[best]])
                                best = j;
                uint32_t t = idx[i];
                idx[i] = idx[best];
                idx[best] = t;
                {
                        uint32_t fr = best_frame(m, fval, idx[i]);
                        cJSON *o;
                        if (skip_plumbing && frame_is_plumbing(&m->frames[fr])) {
                                idx[i] = idx[--n]; /* drop it and look again at this position */
                                i--;
                                continue;
                        }
                        o = cJSON_CreateObject();
                        cJSON_AddItemToObject(o, "function", json_frame(m, fr));
                        cJSON_AddNumberToObject(o, "seconds", round_to(val[idx[i]], 3));
                        json_add_number(o, "percent_of_work",
                                        work > 0 ? round_to(100 * val[idx[i]] / work, 2) : NAN);
                        json_add_number(o, "core_percent",
                                        c->duration > 0 ? round_to(100 * val[idx[i]] / c->duration, 3)
                                                        : NAN);
                        cJSON_AddItemToArray(list, o);
                }
        }
        free(idx);
        return list;
}

typedef struct PerThread {
        cJSON *o;
        double work;
} PerThread;

static int per_desc(const void *a, const void *b)
{
        double x = ((const PerThread *) a)->work, y = ((const PerThread *) b)->work;

        return x < y ? 1 : x > y ? -1 : 0;
}

cJSON *report_hot(const RpContext *c)
{
        const SsModel *m = c->m;
        Acc all = { 0 }, one = { 0 };
        cJSON *sec = NULL, *per;
        double work_all = 0;
        PerThread *pt = calloc(m->n_threads ? m->n_threads : 1, sizeof(PerThread));
        size_t npt = 0;

        if (!pt || acc_new(m, &all) < 0 || acc_new(m, &one) < 0)
                goto out;
        sec = cJSON_CreateObject();
        per = cJSON_AddArrayToObject(sec, "threads");
        for (uint32_t ti = 0; ti < m->n_threads; ti++) {
                double work;
                cJSON *o;
                acc_reset(m, &one);
                work = acc_thread(c, ti, &one);
                work_all += work;
                for (size_t f = 0; f < m->n_funcs; f++) {
                        all.self[f] += one.self[f];
                        all.total[f] += one.total[f];
                }
                for (size_t f = 0; f < m->n_frames; f++) {
                        all.fself[f] += one.fself[f];
                        all.ftotal[f] += one.ftotal[f];
                }
                if (work <= 0)
                        continue;
                o = cJSON_CreateObject();
                cJSON_AddItemToObject(o, "thread", json_thread(m, ti));
                cJSON_AddNumberToObject(o, "work_seconds", round_to(work, 3));
                cJSON_AddItemToObject(o, "self", top_list(c, one.self, one.fself, TOP_THREAD, work, false));
                cJSON_AddItemToObject(o, "total",
                                      top_list(c, one.total, one.ftotal, TOP_THREAD, work, true));
                pt[npt++] = (PerThread){ o, work };
        }
        /* The busiest threads' own lists; a thread-per-request server has hundreds of one-sample threads. */
        if (npt)
                qsort_safe(pt, npt, sizeof(PerThread), per_desc);
        for (size_t i = 0; i < npt; i++) {
                if (i < THREADS_MAX)
                        cJSON_AddItemToArray(per, pt[i].o);
                else
                        cJSON_Delete(pt[i].o);
        }
        if (npt > THREADS_MAX)
                cJSON_AddNumberToObject(sec, "threads_left_out", (double) (npt - THREADS_MAX));
        cJSON_AddNumberToObject(sec, "work_seconds", round_to(work_all, 3));
        cJSON_AddItemToObject(sec, "self", top_list(c, all.self, all.fself, TOP_OVERALL, work_all, false));
        cJSON_AddItemToObject(sec, "total", top_list(c, all.total, all.ftotal, TOP_OVERALL, work_all, true));
out:
        acc_free(&all);
        acc_free(&one);
        free(pt);
        return sec;
}

uint32_t report_thread_top_frame(const RpContext *c, uint32_t ti, double *ret_seconds)
{
        const SsModel *m = c->m;
        double *acc = calloc(m->n_frames ? m->n_frames : 1, sizeof(double));
        uint32_t best = SS_NONE;

        if (!acc)
                return SS_NONE;
        for (uint32_t n = m->threads[ti].root; n < m->n_nodes && m->nodes[n].thread == ti; n++) {
                uint32_t f;
                if (m->nodes[n].self_n == 0 || m->nodes[n].frame == SS_NONE || rp_kind(c, n) != WAIT_NONE)
                        continue;
                f = rp_own_frame(c, n);
                acc[f] += m->nodes[n].self_s;
                if (best == SS_NONE || acc[f] > acc[best])
                        best = f;
        }
        if (ret_seconds)
                *ret_seconds = best == SS_NONE ? 0 : acc[best];
        free(acc);
        return best;
}
