/* SPDX-License-Identifier: MIT */
/*
 * Blocking in async code (the seed's guide, part 4, and pattern 3). On a
 * thread that runs an asyncio loop, a sample is "in a coroutine" when its
 * stack goes through the loop's callback runner (events.Handle._run, a
 * task's step; or, with uvloop, straight under asyncio.run) into code of
 * the program's own: the first such frame is the coroutine. A coroutine
 * sample blocks the loop when it is in a known blocking call (requests,
 * http.client, subprocess, pathlib/shutil file I/O, socket connect) or
 * waiting (time.sleep, a lock, a queue, a socket read: report-classify.h,
 * or waiting by the thread's measured CPU: report-profile.h). The loop is
 * also held by a coroutine that computes for long: stretches of
 * consecutive samples in one coroutine of 100 ms or more are reported.
 *
 * A stretch of samples in one coroutine is not evidence enough either:
 * a loop busy with short steps of one coroutine shows some long stretches
 * by chance, and only stretches chance would not give are reported.
 *
 * A name is not evidence enough (issue 17). The loop's own I/O on the
 * selector's ready path is no wait (report-classify.c). A coroutine is
 * called blocked only on ten samples and 1 % of the loop's time or more: a
 * few samples at one line are as likely the loop waiting for the GIL or a
 * CPU while other threads run. And when the thread's measured CPU shows it
 * was running in the samples that look like waits (its CPU is as high as
 * its work and those waits together, within the samples' error), they
 * were not waits: a call the sampler caught on its way in or out.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"
#include "sort-util.h"

#define PENDING (SS_NONE - 1) /* inside a callback, its coroutine not reached yet */
#define LONG_STEP 0.05        /* seconds: a stretch counted as long */
#define COMPUTE_FLAG 0.1      /* seconds: a computing stretch this long is reported... */
#define COMPUTE_REPEATS 10    /* ...and so are this many of LONG_STEP or more */
#define SITES 8
#define TOP_COROUTINES 10
#define BLOCKED_SAMPLES 10 /* a blocked coroutine is seen this many times at least... */
#define BLOCKED_SHARE 0.01 /* ...and for 1 % of the loop's time */
#define CPU_SLACK 3.0      /* points of a core: the CSV's and the samples' own error */

typedef struct Site {
        uint32_t frame;
        int kind; /* BlockKind + WAIT_KIND_MAX * is_wait */
        double secs;
} Site;

typedef struct Coro {
        uint32_t func, frame;
        double frame_s, total_s, blocked_s, longest, longest_t;
        double wait_s; /* of blocked_s, in waits (not in a blocking library's own Python code) */
        size_t long_steps, stretches;
        Site sites[SITES];
        size_t n_sites;
} Coro;

static bool is_runners_run(const SsFrame *f)
{
        return f && strcmp(own_name(f->name), "run") == 0 && file_is(f->file, "asyncio/runners.py");
}

/* Per node of the thread: its coroutine's node (or SS_NONE, PENDING) and its first blocking frame's node. */
static void map_nodes(const SsModel *m, uint32_t root, uint32_t end, uint32_t *coro, uint32_t *blk)
{
        coro[0] = blk[0] = SS_NONE;
        for (uint32_t n = root + 1; n < end; n++) {
                uint32_t p = m->nodes[n].parent, pc = p == root ? SS_NONE : coro[p - root], c;
                const SsFrame *f = ss_node_frame(m, n);
                LoopRole role = classify_loop(f);
                if (role == LOOP_CALLBACK)
                        c = PENDING;
                else if (pc == PENDING)
                        c = role == LOOP_NONE ? n : PENDING;
                else if (pc != SS_NONE)
                        c = pc;
                else if (p != root && role == LOOP_NONE && !frame_is_plumbing(f) &&
                         is_runners_run(ss_node_frame(m, p)))
                        c = n; /* uvloop: the coroutine runs straight under asyncio.run */
                else
                        c = SS_NONE;
                coro[n - root] = c;
                blk[n - root] = SS_NONE;
                if (c == SS_NONE || c == PENDING)
                        continue;
                if (p != root && coro[p - root] == c && blk[p - root] != SS_NONE)
                        blk[n - root] = blk[p - root];
                else if (classify_blocking(f) != BLOCK_NONE)
                        blk[n - root] = n;
        }
}

/* The line of Python code a stack ends in, under any C frames --native added. */
static uint32_t python_frame(const SsModel *m, uint32_t node)
{
        uint32_t n = node;

        while (n != SS_NONE && m->nodes[n].frame != SS_NONE && frame_is_native(ss_node_frame(m, n)))
                n = m->nodes[n].parent;
        return n != SS_NONE && m->nodes[n].frame != SS_NONE ? m->nodes[n].frame : m->nodes[node].frame;
}

static Coro *coro_get(Coro **v, size_t *n, size_t *cap, uint32_t func)
{
        for (size_t i = 0; i < *n; i++)
                if ((*v)[i].func == func)
                        return &(*v)[i];
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                Coro *x = realloc(*v, nc * sizeof(Coro));
                if (!x)
                        return NULL;
                *v = x;
                *cap = nc;
        }
        (*v)[*n] = (Coro){ .func = func, .frame = SS_NONE };
        return &(*v)[(*n)++];
}

static void site_add(Coro *c, uint32_t frame, int kind, double secs)
{
        size_t i;

        for (i = 0; i < c->n_sites; i++)
                if (c->sites[i].frame == frame && c->sites[i].kind == kind)
                        break;
        if (i == c->n_sites) {
                if (c->n_sites == SITES)
                        return;
                c->sites[c->n_sites++] = (Site){ .frame = frame, .kind = kind };
        }
        c->sites[i].secs += secs;
}

static const Site *site_top(const Coro *c)
{
        const Site *best = NULL;

        for (size_t i = 0; i < c->n_sites; i++)
                if (!best || c->sites[i].secs > best->secs)
                        best = &c->sites[i];
        return best;
}

static const char *site_words(const SsModel *m, const Site *s, char *buf, size_t size)
{
        char fb[512];

        fmt_frame(m, s->frame, fb, sizeof(fb));
        if (s->kind < WAIT_KIND_MAX) {
                switch ((WaitKind) s->kind) {
                case WAIT_SLEEP:
                        snprintf(buf, size, "time.sleep at %s", fb);
                        break;
                case WAIT_INFERRED:
                        snprintf(buf, size, "a blocking call at %s", fb);
                        break;
                default:
                        snprintf(buf, size, "a %s at %s", wait_kind_name((WaitKind) s->kind), fb);
                }
        } else
                snprintf(buf, size, "%s in %s", block_kind_name((BlockKind) (s->kind - WAIT_KIND_MAX)), fb);
        return buf;
}

static const char *fix_for(const Site *s)
{
        if (s->kind == WAIT_SLEEP || s->kind == WAIT_INFERRED)
                return "Never block the event loop: await asyncio.sleep() instead of time.sleep(); run a blocking "
                       "call with await asyncio.to_thread(...) (or loop.run_in_executor).";
        if (s->kind == WAIT_KIND_MAX + BLOCK_HTTP)
                return "Use an async HTTP client (aiohttp.ClientSession, httpx.AsyncClient) or await "
                       "asyncio.to_thread(requests.get, ...).";
        if (s->kind == WAIT_KIND_MAX + BLOCK_FILE)
                return "Move file I/O off the loop: await asyncio.to_thread(...) or aiofiles.";
        if (s->kind == WAIT_KIND_MAX + BLOCK_SUBPROCESS)
                return "Use asyncio.create_subprocess_exec() and await it.";
        return "Await the asyncio equivalent (asyncio.Lock, asyncio.Queue, asyncio streams) or run the blocking "
               "call with await asyncio.to_thread(...).";
}

/*
 * Whether the thread ran in the samples that look like waits: its measured CPU reaches its work and those
 * waits together, within CPU_SLACK and twice the samples' own standard error.
 */
static bool ran_while_waiting(const RpContext *c, uint32_t ti, double waits_s)
{
        const RpThread *rt = &c->threads[ti];
        double p = (rt->work_s + waits_s) / rt->seconds, n = (double) rt->n_seen;

        if (!rt->has_cpu || waits_s <= 0 || n < 1)
                return false;
        return rt->cpu_mean >= 100 * p - CPU_SLACK - 200 * sqrt(p * (1 - p) / n);
}

/*
 * Stretches of consecutive samples in one coroutine of len seconds or more that chance alone would give,
 * were samples independent and the coroutine in a share p of them: n (1 - p) p^(len / interval). A busy
 * loop shows back-to-back short steps as one long stretch now and then; only more than that is a
 * coroutine holding the loop.
 */
static double by_chance(const RpContext *c, const RpThread *rt, double p, double len)
{
        return (double) rt->n_seen * (1 - p) * pow(p, len / c->interval);
}

/* A new blocking-async finding for a coroutine that blocks the loop at site s. */
static cJSON *blocked_finding(const RpContext *c, uint32_t ti, const Coro *co, const Site *s)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        char cb[512], wb[768], lb[32], tb[32];
        cJSON *f;

        fmt_frame(m, co->frame, cb, sizeof(cb));
        site_words(m, s, wb, sizeof(wb));
        f = finding_new("blocking-async", SEV_PROBLEM, 100 * co->blocked_s / c->duration,
                        "Coroutine %s blocks the event loop of %s: %s, %.1f%% of the loop's time",
                        m->frames[co->frame].name, fmt_thread(m, ti), wb, 100 * co->blocked_s / rt->seconds);
        finding_function(f, m, s->frame);
        finding_evidence(f, "coroutine %s: %s in it, %s of that blocked (%.0f%%)", cb,
                         fmt_seconds(co->total_s, lb, sizeof(lb)),
                         fmt_seconds(co->blocked_s, tb, sizeof(tb)), 100 * co->blocked_s / co->total_s);
        if (s->kind == WAIT_INFERRED && rt->has_cpu)
                finding_evidence(f,
                                 "the loop's thread used %.1f%% of a core on average, so those samples "
                                 "were waiting, not computing: a C call %s cannot see into "
                                 "(time.sleep, a socket or file read, a lock)",
                                 rt->cpu_mean, c->sampler);
        finding_fix(f, fix_for(s));
        return f;
}

/* The coroutine holds the loop in stretches longer, or long ones more often, than chance would give. */
static bool holds_loop(const RpContext *c, const RpThread *rt, const Coro *co)
{
        return (co->longest >= COMPUTE_FLAG &&
                by_chance(c, rt, co->total_s / rt->seconds, co->longest) < 0.05) ||
                (co->long_steps >= COMPUTE_REPEATS &&
                 (double) co->long_steps > 3 * by_chance(c, rt, co->total_s / rt->seconds, LONG_STEP) + 3);
}

/* A new blocking-async finding for a coroutine that holds the loop for long stretches. */
static cJSON *holds_finding(const RpContext *c, uint32_t ti, const Coro *co)
{
        const SsModel *m = c->m;
        char lb[32];
        cJSON *f;

        f = finding_new("blocking-async", SEV_WARNING, 100 * co->total_s / c->duration,
                        "Coroutine %s holds the event loop of %s for up to %s at a time (%zu times %.0f ms "
                        "or more)",
                        m->frames[co->frame].name, fmt_thread(m, ti),
                        fmt_seconds(co->longest, lb, sizeof(lb)), co->long_steps, 1000 * LONG_STEP);
        finding_evidence(f,
                         "without a measured CPU for the thread (no _threads.csv) the report cannot tell "
                         "a blocking call the sampler cannot see (time.sleep, a read) from computing");
        finding_function(f, m, co->frame);
        finding_fix(f,
                    "Split the work with awaits between the pieces, or move it off the loop "
                    "(await asyncio.to_thread(...), a process pool).");
        return f;
}

static void coro_findings(const RpContext *c, uint32_t ti, const Coro *co, bool ran, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        const Site *s = site_top(co);
        double min_blocked = fmax(BLOCKED_SAMPLES * c->interval, BLOCKED_SHARE * rt->seconds);
        char lb[32];
        cJSON *f;

        if (ran && s && s->kind < WAIT_KIND_MAX)
                s = NULL; /* its waits were time on the CPU */
        if (co->blocked_s >= min_blocked && s)
                f = blocked_finding(c, ti, co, s);
        else if (holds_loop(c, rt, co))
                f = holds_finding(c, ti, co);
        else
                return;
        finding_thread(f, m, ti);
        finding_number(f, "coroutine_seconds", co->total_s);
        finding_number(f, "blocked_seconds", co->blocked_s);
        finding_number(f, "loop_percent", 100 * co->blocked_s / rt->seconds);
        finding_number(f, "longest_step_seconds", co->longest);
        finding_number(f, "long_steps", (double) co->long_steps);
        finding_evidence(
                f,
                "%zu stretches of %.0f ms or more in this coroutine; the longest, %s, starts at %.1f s "
                "of the thread's timeline",
                co->long_steps, LONG_STEP * 1000, fmt_seconds(co->longest, lb, sizeof(lb)), co->longest_t);
        finding_where(f,
                      "speedscope: thread %s, Time Order view around %.1f s: a plateau of %s where the loop "
                      "should be back in select; or search \"%s\"",
                      fmt_thread(m, ti), co->longest_t, m->frames[co->frame].name,
                      m->frames[co->frame].name);
        cJSON_AddItemToArray(findings, f);
}

static void close_stretch(Coro *co, double start, double end)
{
        double len = end - start;

        if (!co)
                return;
        co->stretches++;
        if (len >= LONG_STEP)
                co->long_steps++;
        if (len > co->longest) {
                co->longest = len;
                co->longest_t = start;
        }
}

static int coro_desc(const void *a, const void *b)
{
        double x = ((const Coro *) a)->total_s, y = ((const Coro *) b)->total_s;

        return x < y ? 1 : x > y ? -1 : 0;
}

/* The coroutines of one loop thread and its totals, as its runs are read. */
typedef struct LoopScan {
        Coro *v;
        size_t n, cap;
        double in_cb;   /* seconds in a coroutine */
        double blocked; /* of them, blocked */
        double waits;   /* of them, waiting */
} LoopScan;

/* One run of secs in coroutine co (its node cn): its time, its frame, and where it blocked or waited. */
static void tally_run(const RpContext *c, const SsThread *t, const SsRun *r, uint32_t cn, double secs,
                      const uint32_t *blk, Coro *co, LoopScan *ls)
{
        const SsModel *m = c->m;

        co->total_s += secs;
        ls->in_cb += secs;
        if (co->frame == SS_NONE || m->nodes[cn].frame == co->frame) {
                co->frame = m->nodes[cn].frame;
                co->frame_s += secs;
        }
        if (blk[r->node - t->root] != SS_NONE) {
                uint32_t b = blk[r->node - t->root];
                site_add(co, m->nodes[b].frame, WAIT_KIND_MAX + (int) classify_blocking(ss_node_frame(m, b)),
                         secs);
                co->blocked_s += secs;
                ls->blocked += secs;
        } else if (rp_waits(c, r->node)) {
                site_add(co, python_frame(m, r->node), (int) rp_kind(c, r->node), secs);
                co->blocked_s += secs;
                co->wait_s += secs;
                ls->blocked += secs;
                ls->waits += secs;
        }
}

/* The thread's runs in order, into its coroutines and their stretches of consecutive samples. */
static void scan_loop(const RpContext *c, uint32_t ti, const uint32_t *coro, const uint32_t *blk,
                      LoopScan *ls)
{
        const SsModel *m = c->m;
        const SsThread *t = &m->threads[ti];
        uint32_t cur = SS_NONE;
        double start = 0;

        for (size_t i = 0; i < t->n_runs; i++) {
                const SsRun *r = &t->runs[i];
                uint32_t cn = coro[r->node - t->root], fn;
                Coro *co;
                if (cn == SS_NONE || cn == PENDING) {
                        if (cur != SS_NONE)
                                close_stretch(coro_get(&ls->v, &ls->n, &ls->cap, cur), start, r->t);
                        cur = SS_NONE;
                        continue;
                }
                fn = ss_node_func(m, cn);
                if (fn != cur) {
                        if (cur != SS_NONE)
                                close_stretch(coro_get(&ls->v, &ls->n, &ls->cap, cur), start, r->t);
                        cur = fn;
                        start = r->t;
                }
                co = coro_get(&ls->v, &ls->n, &ls->cap, fn);
                if (!co)
                        break;
                tally_run(c, t, r, cn, ss_run_seconds(t, i), blk, co, ls);
        }
        if (cur != SS_NONE) {
                Coro *co = coro_get(&ls->v, &ls->n, &ls->cap, cur);
                close_stretch(co, start, t->seconds);
        }
}

/* A coroutine's entry in its loop's list. */
static cJSON *coro_json(const RpContext *c, uint32_t ti, const Coro *co)
{
        cJSON *x = cJSON_CreateObject();

        cJSON_AddItemToObject(x, "function", json_frame(c->m, co->frame));
        cJSON_AddNumberToObject(x, "seconds", round_to(co->total_s, 4));
        cJSON_AddNumberToObject(x, "loop_percent", round_to(100 * co->total_s / c->threads[ti].seconds, 3));
        cJSON_AddNumberToObject(x, "blocked_seconds", round_to(co->blocked_s, 4));
        cJSON_AddNumberToObject(x, "longest_step_seconds", round_to(co->longest, 4));
        /* separate stretches of samples in it: at least that many runs */
        cJSON_AddNumberToObject(x, "runs_seen", (double) co->stretches);
        return x;
}

static cJSON *loop_thread(const RpContext *c, uint32_t ti, uint32_t *coro, uint32_t *blk, cJSON *findings)
{
        const SsModel *m = c->m;
        const SsThread *t = &m->threads[ti];
        uint32_t end = t->root;
        LoopScan ls = { 0 };
        bool ran;
        cJSON *o, *list;

        while (end < m->n_nodes && m->nodes[end].thread == ti)
                end++;
        map_nodes(m, t->root, end, coro, blk);
        scan_loop(c, ti, coro, blk, &ls);
        if (ls.n)
                qsort_safe(ls.v, ls.n, sizeof(Coro), coro_desc);
        ran = ran_while_waiting(c, ti, ls.waits);
        o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "thread", json_thread(m, ti));
        cJSON_AddNumberToObject(o, "coroutine_percent",
                                round_to(100 * ls.in_cb / c->threads[ti].seconds, 3));
        cJSON_AddNumberToObject(o, "blocked_percent",
                                round_to(100 * ls.blocked / c->threads[ti].seconds, 3));
        if (ran)
                cJSON_AddBoolToObject(o, "waits_ran_on_cpu", true);
        list = cJSON_AddArrayToObject(o, "coroutines");
        for (size_t i = 0; i < ls.n; i++) {
                if (i < TOP_COROUTINES)
                        cJSON_AddItemToArray(list, coro_json(c, ti, &ls.v[i]));
                coro_findings(c, ti, &ls.v[i], ran, findings);
        }
        free(ls.v);
        return o;
}

cJSON *report_async(const RpContext *c, cJSON *findings)
{
        const SsModel *m = c->m;
        uint32_t *coro = malloc((m->n_nodes ? m->n_nodes : 1) * sizeof(uint32_t));
        uint32_t *blk = malloc((m->n_nodes ? m->n_nodes : 1) * sizeof(uint32_t));
        cJSON *section = NULL;

        if (!coro || !blk || !c->idle_included)
                goto out;
        section = cJSON_CreateArray();
        for (uint32_t ti = 0; ti < m->n_threads; ti++)
                if (c->threads[ti].event_loop && c->threads[ti].seconds > 0)
                        cJSON_AddItemToArray(section, loop_thread(c, ti, coro, blk, findings));
out:
        free(coro);
        free(blk);
        return section;
}
