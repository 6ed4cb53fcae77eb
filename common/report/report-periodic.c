/* SPDX-License-Identifier: MIT */
/*
 * Periodic work (the seed's guide, part 3, and pattern 2, excessive
 * polling). For each of a thread's own functions, its "bursts" are the
 * stretches of consecutive working samples it is in; their start times
 * give the period. Two cases:
 *
 *  - a period of at least three sample intervals is measured: the period
 *    P is the one that explains 80 %+ of the gaps between bursts as whole
 *    multiples of P (a short run is missed by some samples, so a 1 s task
 *    shows gaps of 1, 2, 3 s), within what py-spy's clock allows: its time
 *    is the sample count, off by about sqrt(gap x interval), and clearly
 *    more often than memoryless bursts would. That clock error means that
 *    at 100 Hz periods under about a third of a second are rarely
 *    measurable: such work shows as the next case, or not at all;
 *  - work that repeats faster than samples come (py-spy samples at random
 *    times, 10 ms apart on average at 100 Hz) cannot show its period:
 *    it shows as many one-sample bursts, and a sample right after one in
 *    it is no likelier to be in it than any sample. That is reported as
 *    "every few milliseconds", with the number of bursts per second as a
 *    lower bound on how often it runs.
 *
 * Work every 50 ms or faster is flagged; slower periods are listed.
 *
 * Work driven by arriving events is not a timer (issue 17: a request
 * handler in the thread pool at 200 requests a second was called work
 * that "recurs every few milliseconds", to be run less often). What wakes
 * the thread between runs decides: a sleep is a timer (PROBLEM, as
 * before); a wait on a work queue (a thread pool's worker), or on a socket
 * or select outside an event loop, is work handed to it; on an event loop,
 * whose wait is always its selector, the socket events it serves are
 * counted (stretches of samples in asyncio's selector callbacks, a lower
 * bound of their rate), and when they come at a quarter of the candidate's
 * rate or more, the candidate is taken as their cost. Such work is a
 * per-event cost: a note with its cost per second, not a timer to slow.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"
#include "sort-util.h"

#define CAND_MAX 48
#define MIN_SAMPLES 10
#define STEM_SHARE 0.9
#define STARTS_MAX 65536
#define FLAG_PERIOD 0.05    /* seconds: 20 times a second or more */
#define FAST_BURSTS 10.0    /* bursts per second, at least */
#define FAST_MEAN_BURST 1.6 /* samples */
#define REGULAR_EXPLAINED 0.8
#define CHANCE_MARGIN 0.25 /* ...and at least this much more than memoryless gaps would */
#define MULTIPLE_MAX 3

typedef struct Cand {
        uint32_t func, frame; /* frame: its busiest line in this thread */
        double work_s;
        uint64_t samples, episodes, ep_samples;
        double ep_seconds;
        float *starts;
        size_t n_starts, cap;
        double open_t; /* the open burst's start */
        uint64_t open_n;
        double first, last;
        /* results */
        double period, explained;
        bool fast, regular, dropped;
} Cand;

typedef struct Scan {
        double *all_s, *work_s, *fwork; /* per func, per func, per frame */
        uint64_t *work_n;
        uint32_t *stamp, *fstamp;
        uint32_t *touched, *ftouched;
        size_t n_touched, n_ftouched;
        uint64_t *mask; /* per node of the thread */
} Scan;

static bool func_is_own(const SsModel *m, uint32_t func)
{
        SsFrame f = { .name = m->funcs[func].name, .file = m->funcs[func].file };

        return !frame_is_plumbing(&f) && !frame_is_stdlib(&f);
}

/* Per function: seconds on the stack in all samples and in working ones; per frame: working seconds. */
static void scan_thread(const RpContext *c, uint32_t ti, Scan *s, uint32_t end)
{
        const SsModel *m = c->m;
        uint32_t root = m->threads[ti].root;

        for (size_t i = 0; i < s->n_touched; i++) {
                uint32_t f = s->touched[i];
                s->all_s[f] = s->work_s[f] = 0;
                s->work_n[f] = 0;
        }
        for (size_t i = 0; i < s->n_ftouched; i++)
                s->fwork[s->ftouched[i]] = 0;
        s->n_touched = s->n_ftouched = 0;
        for (uint32_t n = m->threads[ti].root; n < end; n++) {
                const SsNode *node = &m->nodes[n];
                bool working = rp_kind(c, n) == WAIT_NONE;
                if (node->self_n == 0)
                        continue;
                for (uint32_t p = n; p != SS_NONE && m->nodes[p].frame != SS_NONE; p = m->nodes[p].parent) {
                        uint32_t fr = m->nodes[p].frame, fn = m->frames[fr].func;
                        if (s->stamp[fn] != n) {
                                /* Stamps are node ids, and a thread's nodes come after earlier threads'. */
                                if (s->stamp[fn] == SS_NONE || s->stamp[fn] < root)
                                        s->touched[s->n_touched++] = fn;
                                s->stamp[fn] = n;
                                s->all_s[fn] += node->self_s;
                                if (working) {
                                        s->work_s[fn] += node->self_s;
                                        s->work_n[fn] += node->self_n;
                                }
                        }
                        if (working && s->fstamp[fr] != n) {
                                if (s->fstamp[fr] == SS_NONE || s->fstamp[fr] < root)
                                        s->ftouched[s->n_ftouched++] = fr;
                                s->fstamp[fr] = n;
                                s->fwork[fr] += node->self_s > 0 ? node->self_s : 1e-12;
                        }
                }
        }
}

static int by_work_desc(const void *a, const void *b, void *arg)
{
        const double *w = arg;
        double x = w[*(const uint32_t *) a], y = w[*(const uint32_t *) b];

        return x < y ? 1 : x > y ? -1 : 0;
}

static int push_start(Cand *k, double t)
{
        if (k->n_starts >= STARTS_MAX)
                return 0;
        if (k->n_starts == k->cap) {
                size_t cap = k->cap ? k->cap * 2 : 64;
                float *s = realloc(k->starts, cap * sizeof(float));
                if (!s)
                        return -ENOMEM;
                k->starts = s;
                k->cap = cap;
        }
        k->starts[k->n_starts++] = (float) t;
        return 0;
}

/* Bursts of each candidate along the thread's timeline. */
static int bursts(const RpContext *c, uint32_t ti, Cand *cand, size_t nc, const uint64_t *mask)
{
        const SsThread *t = &c->m->threads[ti];
        uint64_t prev = 0;

        for (size_t i = 0; i < t->n_runs; i++) {
                const SsRun *r = &t->runs[i];
                uint64_t mk = rp_kind(c, r->node) == WAIT_NONE ? mask[r->node - t->root] : 0;
                uint64_t started = mk & ~prev, ended = prev & ~mk;
                for (size_t b = 0; b < nc; b++) {
                        Cand *k = &cand[b];
                        uint64_t bit = 1ULL << b;
                        if (ended & bit) {
                                k->ep_seconds += r->t - k->open_t;
                                k->ep_samples += k->open_n;
                        }
                        if (started & bit) {
                                k->episodes++;
                                k->open_t = r->t;
                                k->open_n = 0;
                                if (k->episodes == 1)
                                        k->first = r->t;
                                k->last = r->t;
                                if (push_start(k, r->t) < 0)
                                        return -ENOMEM;
                        }
                        if (mk & bit) {
                                k->open_n += r->n;
                                k->samples += r->n;
                        }
                }
                prev = mk;
        }
        for (size_t b = 0; b < nc; b++)
                if (prev & (1ULL << b)) {
                        cand[b].ep_seconds += t->seconds - cand[b].open_t;
                        cand[b].ep_samples += cand[b].open_n;
                }
        return 0;
}

static int cmp_float(const void *a, const void *b)
{
        float x = *(const float *) a, y = *(const float *) b;

        return x < y ? -1 : x > y;
}

/* How far a gap of q periods may be from q * p: py-spy's clock is the sample count, off by about
 * sqrt(g * interval) over g seconds, and a timer drifts a little. */
static double tolerance(const RpContext *c, double q, double p)
{
        return fmax(fmax(2.5 * c->interval, 2 * sqrt(q * p * c->interval)), 0.05 * q * p);
}

/* The share of exponential gaps of mean mu, of those up to MULTIPLE_MAX + 0.5 periods, within the windows. */
static double chance(const RpContext *c, double p, double mu)
{
        double judged = 1 - exp(-(MULTIPLE_MAX + 0.5) * p / mu), in = 0;

        for (int q = 1; q <= MULTIPLE_MAX; q++) {
                double tol = tolerance(c, q, p), a = fmax(0, q * p - tol),
                       b = fmin(q * p + tol, (MULTIPLE_MAX + 0.5) * p);
                if (b > a)
                        in += exp(-a / mu) - exp(-b / mu);
        }
        return judged > 0 ? fmin(1, in / judged) : 1;
}

/* The share of the gaps (of those judged) that period p explains, or NAN when p cannot be the period:
 * too short to measure, too few gaps judged or of one period, no better than chance. */
static double explained_by(const RpContext *c, const float *gap, size_t n, double p, double mean)
{
        size_t hit = 0, ones = 0, judged = 0;

        if (p < 3 * c->interval)
                return NAN;
        for (size_t i = 0; i < n; i++) {
                double q = round(gap[i] / p);
                if (gap[i] > (MULTIPLE_MAX + 0.5) * p)
                        continue;
                judged++;
                if (q >= 1 && fabs(gap[i] - q * p) <= tolerance(c, q, p)) {
                        hit++;
                        ones += q == 1;
                }
        }
        if (judged < 5 || judged < 0.3 * n || ones < 0.25 * judged)
                return NAN;
        /* Memoryless bursts (exponential gaps of the same mean) would land in those windows this
         * often: a period must explain clearly more than that. */
        if ((double) hit / judged - chance(c, p, mean) < CHANCE_MARGIN)
                return NAN;
        return (double) hit / judged;
}

/* Refined over the gaps of one or two periods it explains: the sum of the gaps over the sum of
 * their multiples, a few times. */
static double refine_period(const RpContext *c, const float *gap, size_t n, double period)
{
        for (int pass = 0; pass < 4 && period > 0; pass++) {
                double sum_gap = 0, sum_q = 0;
                for (size_t i = 0; i < n; i++) {
                        double q = round(gap[i] / period);
                        if (q >= 1 && q <= 2 && fabs(gap[i] - q * period) <= tolerance(c, q, period)) {
                                sum_gap += gap[i];
                                sum_q += q;
                        }
                }
                if (sum_q > 0)
                        period = sum_gap / sum_q;
        }
        return period;
}

/* The period that explains most gaps as multiples of it (see the top of the file). Only gaps of up to
 * MULTIPLE_MAX periods are judged: over longer ones the clock's error hides the period. */
static void find_period(const RpContext *c, Cand *k)
{
        size_t n = k->n_starts > 1 ? k->n_starts - 1 : 0;
        float *gap;
        double tries[3], mean = 0;

        if (n < 5)
                return;
        gap = malloc(n * sizeof(float));
        if (!gap)
                return;
        for (size_t i = 0; i < n; i++) {
                gap[i] = k->starts[i + 1] - k->starts[i];
                mean += gap[i];
        }
        mean /= (double) n;
        qsort_safe(gap, n, sizeof(float), cmp_float);
        tries[0] = gap[n / 10];
        tries[1] = gap[n / 4];
        tries[2] = gap[n / 2];
        for (size_t t = 0; t < 3; t++) {
                double p = tries[t], share = explained_by(c, gap, n, p, mean);
                if (isnan(share))
                        continue;
                if (share > k->explained || (share == k->explained && p > k->period)) {
                        k->explained = share;
                        k->period = p;
                }
        }
        k->period = refine_period(c, gap, n, k->period);
        free(gap);
        k->regular = k->explained >= REGULAR_EXPLAINED;
}

static void judge(const RpContext *c, uint32_t ti, Cand *k)
{
        const RpThread *rt = &c->threads[ti];
        double p_hit = (double) k->samples / (double) rt->n_seen;
        double p_next = k->samples ? (double) (k->samples - k->episodes) / (double) k->samples : 0;
        double per_s = k->episodes / rt->seconds, mean_n = (double) k->ep_samples / (double) k->episodes;

        find_period(c, k);
        k->fast = per_s >= FAST_BURSTS && mean_n <= FAST_MEAN_BURST && p_next <= 1.5 * p_hit + 0.05 &&
                k->last - k->first >= 0.7 * rt->seconds && k->work_s >= 0.01 * rt->seconds;
        if (k->regular)
                k->fast = false; /* a period it could measure says more than "faster than samples" */
}

/* Callees of a periodic function repeat with it: keep the outermost (the one with most time). */
static void dedupe(Cand *cand, size_t nc)
{
        for (size_t i = 0; i < nc; i++)
                for (size_t j = 0; j < nc; j++) {
                        Cand *a = &cand[i], *b = &cand[j];
                        if (i == j || a->dropped || b->dropped || b->work_s > a->work_s ||
                            (b->work_s == a->work_s && j < i))
                                continue;
                        if ((a->fast && b->fast) ||
                            (a->regular && b->regular && fabs(a->period - b->period) <= 0.15 * a->period))
                                b->dropped = true;
                }
}

/* Its share of a core: by its samples, but never more than its share of the thread's working samples
 * times the thread's measured CPU (wall-clock samples count the GIL and a busy CPU as work). */
static double cost_core(const RpContext *c, uint32_t ti, const Cand *k)
{
        const RpThread *rt = &c->threads[ti];
        double core = 100 * k->work_s / c->duration;

        if (rt->has_cpu && rt->work_s > 0)
                core = fmin(core, rt->cpu_mean * k->work_s / rt->work_s);
        return core;
}

/* A busy-wait finding already names thread tid. */
static bool spins(const cJSON *findings, long tid)
{
        const cJSON *f;

        cJSON_ArrayForEach(f, findings)
        {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(f, "kind");
                if (tid > 0 && cJSON_IsString(k) && strcmp(k->valuestring, "busy-wait") == 0 &&
                    finding_tid(f) == tid)
                        return true;
        }
        return false;
}

typedef enum Driver {
        DRIVE_TIMER,   /* it sleeps between runs, or nothing says otherwise */
        DRIVE_QUEUE,   /* it waits on a work queue between runs */
        DRIVE_IO,      /* it waits on a socket or select between runs */
        DRIVE_SOCKETS, /* an event loop serving socket events as often */
} Driver;

/* Stretches per second of the loop thread's samples in asyncio's selector callbacks (socket events). */
double report_socket_events_per_second(const RpContext *c, uint32_t ti)
{
        const SsModel *m = c->m;
        const SsThread *t = &m->threads[ti];
        size_t bursts = 0;
        bool prev = false;

        for (size_t i = 0; i < t->n_runs; i++) {
                bool in = false;
                for (uint32_t a = t->runs[i].node; a != SS_NONE && m->nodes[a].frame != SS_NONE && !in;
                     a = m->nodes[a].parent)
                        in = file_is(ss_node_frame(m, a)->file, "asyncio/selector_events.py");
                bursts += in && !prev;
                prev = in;
        }
        return c->threads[ti].seconds > 0 ? (double) bursts / c->threads[ti].seconds : 0;
}

static Driver driver_of(const RpContext *c, uint32_t ti, double per_s, double *ret_events)
{
        const RpThread *rt = &c->threads[ti];
        double idle = rt->idle_s;

        *ret_events = NAN;
        if (idle <= 0 || rt->wait_s[WAIT_SLEEP] + rt->wait_s[WAIT_INFERRED] >= 0.5 * idle)
                return DRIVE_TIMER;
        if (rt->wait_s[WAIT_QUEUE] >= 0.5 * idle)
                return DRIVE_QUEUE;
        if (rt->event_loop) {
                *ret_events = report_socket_events_per_second(c, ti);
                return *ret_events >= fmax(2, 0.25 * per_s) ? DRIVE_SOCKETS : DRIVE_TIMER;
        }
        if (rt->wait_s[WAIT_SELECT] + rt->wait_s[WAIT_IO] >= 0.5 * idle)
                return DRIVE_IO;
        return DRIVE_TIMER;
}

/* Work that runs when an event arrives: its cost per second, a note. */
static void per_event(const RpContext *c, uint32_t ti, const Cand *k, Driver d, double events,
                      cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        double per_s = k->episodes / rt->seconds, core = cost_core(c, ti, k);
        char fb[512];
        cJSON *f;

        fmt_frame(m, k->frame, fb, sizeof(fb));
        f = finding_new("per-event", SEV_NOTE, core,
                        "%s on %s runs once per request or work item, not on a timer: %.0f runs a second or "
                        "more, %.1f%% of a core in all",
                        fb, fmt_thread(m, ti), per_s, core);
        finding_thread(f, m, ti);
        finding_function(f, m, k->frame);
        finding_number(f, "bursts_per_second", per_s);
        finding_number(f, "core_percent", core);
        if (d == DRIVE_QUEUE)
                finding_evidence(
                        f,
                        "between runs the thread waits on its work queue (%.0f%% of its time): it runs "
                        "when work is handed to it, as a thread pool's worker does",
                        100 * rt->wait_s[WAIT_QUEUE] / rt->seconds);
        else if (d == DRIVE_IO)
                finding_evidence(
                        f,
                        "between runs the thread waits on a socket or in select (%.0f%% of its time): it "
                        "runs when input arrives",
                        100 * (rt->wait_s[WAIT_SELECT] + rt->wait_s[WAIT_IO]) / rt->seconds);
        else {
                finding_number(f, "socket_events_per_second", events);
                finding_evidence(
                        f,
                        "the event loop served socket events (asyncio's selector callbacks) in %.0f "
                        "separate stretches a second or more at the same time: requests, not a timer, "
                        "set the pace",
                        events);
        }
        finding_evidence(
                f,
                "%.0f separate runs a second is a lower bound (runs shorter than the %.0f ms between "
                "samples are missed); it is in %.0f%% of the thread's working samples%s",
                per_s, 1000 * c->interval, 100 * k->work_s / fmax(rt->work_s, 1e-9),
                rt->has_cpu ? ": that share of its measured CPU is the cost above" : "");
        finding_where(
                f,
                "speedscope: thread %s, Sandwich view, \"%s\": its callers show where the work comes from",
                fmt_thread(m, ti), m->frames[k->frame].name);
        finding_fix(
                f,
                "Its cost is per request: make each run cheaper (cache what it computes, serialize once), or "
                "take it off the request's path; running it less often is not in your hands.");
        cJSON_AddItemToArray(findings, f);
}

/* The candidate's entry of the periodic section. */
static cJSON *cand_json(const RpContext *c, uint32_t ti, const Cand *k, double core, double mean_run)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        double per_s = k->episodes / rt->seconds, share = 100 * k->work_s / rt->seconds;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToObject(o, "thread", json_thread(m, ti));
        cJSON_AddItemToObject(o, "function", json_frame(m, k->frame));
        cJSON_AddBoolToObject(o, "fast", k->fast);
        json_add_number(o, "period_seconds", k->regular ? round_to(k->period, 4) : NAN);
        cJSON_AddNumberToObject(o, "bursts", (double) k->episodes);
        cJSON_AddNumberToObject(o, "bursts_per_second", round_to(per_s, 3));
        cJSON_AddNumberToObject(o, "mean_burst_samples", round_to((double) k->ep_samples / k->episodes, 3));
        json_add_number(o, "seconds_per_run", round_to(mean_run, 5));
        cJSON_AddNumberToObject(o, "thread_percent", round_to(share, 3));
        cJSON_AddNumberToObject(o, "core_percent", round_to(core, 3));
        if (k->regular)
                cJSON_AddNumberToObject(o, "explained", round_to(k->explained, 3));
        return o;
}

/* A new periodic finding for work faster than the samples, with its headline and evidence. */
static cJSON *fast_finding(const RpContext *c, uint32_t ti, const Cand *k, const char *fb, double core)
{
        const RpThread *rt = &c->threads[ti];
        double per_s = k->episodes / rt->seconds;
        char pb[32], rb[32];
        cJSON *f;

        f = finding_new("periodic", SEV_PROBLEM, core,
                        "%s on %s recurs every few milliseconds: %.0f separate runs a second or more, each "
                        "shorter than one sample",
                        fb, fmt_thread(c->m, ti), per_s);
        finding_evidence(f,
                         "in %.1f%% of the thread's samples (%s of %s), in %llu bursts of %.2f samples "
                         "on average",
                         100.0 * k->samples / rt->n_seen, fmt_seconds(k->work_s, pb, sizeof(pb)),
                         fmt_seconds(rt->seconds, rb, sizeof(rb)), (unsigned long long) k->episodes,
                         (double) k->ep_samples / k->episodes);
        finding_evidence(f,
                         "a sample right after one in it is in it %.0f%% of the time, as often as any "
                         "sample (%.0f%%): its runs repeat faster than the %.0f ms between samples, so "
                         "%.0f runs a second is a lower bound (every %.0f ms at most)",
                         100.0 * (k->samples - k->episodes) / k->samples, 100.0 * k->samples / rt->n_seen,
                         1000 * c->interval, per_s, 1000 / per_s);
        return f;
}

/* A new periodic finding for work with a measured period, with its headline and evidence. */
static cJSON *timed_finding(const RpContext *c, uint32_t ti, const Cand *k, const char *fb, double core,
                            double mean_run)
{
        char pb[32], rb[32];
        cJSON *f;

        f = finding_new("periodic", SEV_PROBLEM, core,
                        "%s on %s runs every %s (%.0f times a second), %s each", fb, fmt_thread(c->m, ti),
                        fmt_seconds(k->period, pb, sizeof(pb)), 1 / k->period,
                        fmt_seconds(mean_run, rb, sizeof(rb)));
        finding_evidence(f,
                         "%llu bursts; %.0f%% of the gaps between them are whole multiples of %s "
                         "(a run shorter than the sampling interval is sometimes missed)",
                         (unsigned long long) k->episodes, 100 * k->explained,
                         fmt_seconds(k->period, pb, sizeof(pb)));
        finding_number(f, "period_seconds", k->period);
        return f;
}

/* What drives work the thread does not do on a timer, into o; false if it is a timer. */
static bool not_a_timer(const RpContext *c, uint32_t ti, const Cand *k, cJSON *o, cJSON *findings)
{
        double events, per_s = k->episodes / c->threads[ti].seconds;
        Driver d;

        if (spins(findings, c->m->threads[ti].tid)) {
                /* A thread that never waits runs its check over and over: the busy-wait says so, not a timer. */
                cJSON_AddStringToObject(o, "driven_by", "a busy loop");
                return true;
        }
        d = driver_of(c, ti, per_s, &events);
        if (d == DRIVE_TIMER)
                return false;
        cJSON_AddStringToObject(o, "driven_by",
                                d == DRIVE_QUEUE        ? "work queue"
                                        : d == DRIVE_IO ? "input"
                                                        : "socket events");
        per_event(c, ti, k, d, events, findings);
        return true;
}

static void report_cand(const RpContext *c, uint32_t ti, const Cand *k, cJSON *section, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        double per_s = k->episodes / rt->seconds, share = 100 * k->work_s / rt->seconds;
        double core = cost_core(c, ti, k);
        /* A run shorter than a sample cannot be timed by its bursts; with a period, its time per run can. */
        double mean_run = k->regular ? k->work_s * k->period / rt->seconds : NAN;
        char fb[512];
        cJSON *o, *f;

        fmt_frame(m, k->frame, fb, sizeof(fb));
        o = cand_json(c, ti, k, core, mean_run);
        cJSON_AddItemToArray(section, o);
        if (!k->fast && !(k->regular && k->period < FLAG_PERIOD))
                return;
        if (not_a_timer(c, ti, k, o, findings))
                return;
        f = k->fast ? fast_finding(c, ti, k, fb, core) : timed_finding(c, ti, k, fb, core, mean_run);
        finding_thread(f, m, ti);
        finding_function(f, m, k->frame);
        finding_number(f, "bursts_per_second", per_s);
        finding_number(f, "thread_percent", share);
        finding_number(f, "core_percent", core);
        finding_evidence(f, "it takes %.1f%% of the thread's time, %.2f%% of a core", share, core);
        if (rt->wait_s[WAIT_SLEEP] + rt->wait_s[WAIT_INFERRED] > 0.5 * rt->idle_s && rt->idle_s > 0)
                finding_evidence(f,
                                 "between runs the thread sleeps (%.0f%% of its time): it polls in short "
                                 "sleeps",
                                 100 * (rt->wait_s[WAIT_SLEEP] + rt->wait_s[WAIT_INFERRED]) / rt->seconds);
        finding_where(f, "speedscope: thread %s, Time Order view; search \"%s\": %s", fmt_thread(m, ti),
                      m->frames[k->frame].name,
                      k->fast ? "its matches are scattered single samples all along the timeline"
                              : "the matches come back at a steady pace");
        finding_fix(
                f,
                "Run it less often (seconds, not milliseconds), or make it event-driven: react to a change "
                "notification instead of polling for it.");
        cJSON_AddItemToArray(findings, f);
}

static int periodic_thread(const RpContext *c, uint32_t ti, Scan *s, cJSON *section, cJSON *findings)
{
        const SsModel *m = c->m;
        const SsThread *t = &m->threads[ti];
        uint32_t end = t->root;
        Cand cand[CAND_MAX] = { 0 };
        size_t nc = 0;
        int r = 0;

        while (end < m->n_nodes && m->nodes[end].thread == ti)
                end++;
        scan_thread(c, ti, s, end);
        qsort_r_safe(s->touched, s->n_touched, sizeof(uint32_t), by_work_desc, s->work_s);
        for (size_t i = 0; i < s->n_touched && nc < CAND_MAX; i++) {
                uint32_t fn = s->touched[i];
                if (s->work_n[fn] < MIN_SAMPLES)
                        break;
                if (s->all_s[fn] >= STEM_SHARE * c->threads[ti].seconds || !func_is_own(m, fn))
                        continue;
                cand[nc++] = (Cand){ .func = fn, .frame = SS_NONE, .work_s = s->work_s[fn] };
        }
        if (nc == 0)
                return 0;
        for (size_t i = 0; i < s->n_ftouched; i++) {
                uint32_t fr = s->ftouched[i];
                for (size_t b = 0; b < nc; b++)
                        if (m->frames[fr].func == cand[b].func &&
                            (cand[b].frame == SS_NONE || s->fwork[fr] > s->fwork[cand[b].frame]))
                                cand[b].frame = fr;
        }
        for (uint32_t n = t->root; n < end; n++) {
                uint64_t mk = m->nodes[n].parent != SS_NONE ? s->mask[m->nodes[n].parent - t->root] : 0;
                uint32_t fn = ss_node_func(m, n);
                for (size_t b = 0; b < nc && fn != SS_NONE; b++)
                        if (cand[b].func == fn)
                                mk |= 1ULL << b;
                s->mask[n - t->root] = mk;
        }
        r = bursts(c, ti, cand, nc, s->mask);
        for (size_t b = 0; r == 0 && b < nc; b++)
                if (cand[b].episodes > 0)
                        judge(c, ti, &cand[b]);
        if (r == 0)
                dedupe(cand, nc);
        for (size_t b = 0; r == 0 && b < nc; b++)
                if (!cand[b].dropped && (cand[b].fast || cand[b].regular))
                        report_cand(c, ti, &cand[b], section, findings);
        for (size_t b = 0; b < nc; b++)
                free(cand[b].starts);
        return r;
}

cJSON *report_periodic(const RpContext *c, cJSON *findings)
{
        const SsModel *m = c->m;
        size_t nf = m->n_funcs ? m->n_funcs : 1, nr = m->n_frames ? m->n_frames : 1;
        Scan s = { 0 };
        cJSON *section;

        if (!c->idle_included)
                return NULL; /* without idle samples the time axis is not time */
        section = cJSON_CreateArray();
        s.all_s = calloc(nf, sizeof(double));
        s.work_s = calloc(nf, sizeof(double));
        s.work_n = calloc(nf, sizeof(uint64_t));
        s.fwork = calloc(nr, sizeof(double));
        s.stamp = malloc(nf * sizeof(uint32_t));
        s.fstamp = malloc(nr * sizeof(uint32_t));
        s.touched = malloc(nf * sizeof(uint32_t));
        s.ftouched = malloc(nr * sizeof(uint32_t));
        s.mask = malloc((m->n_nodes ? m->n_nodes : 1) * sizeof(uint64_t));
        if (section && s.all_s && s.work_s && s.work_n && s.fwork && s.stamp && s.fstamp && s.touched &&
            s.ftouched && s.mask) {
                memset(s.stamp, 0xff, nf * sizeof(uint32_t));
                memset(s.fstamp, 0xff, nr * sizeof(uint32_t));
                for (uint32_t ti = 0; ti < m->n_threads; ti++)
                        if (c->threads[ti].seconds >= 2.0 && c->threads[ti].n_seen >= 100 &&
                            periodic_thread(c, ti, &s, section, findings) < 0)
                                break;
        }
        free(s.all_s);
        free(s.work_s);
        free(s.work_n);
        free(s.fwork);
        free(s.stamp);
        free(s.fstamp);
        free(s.touched);
        free(s.ftouched);
        free(s.mask);
        return section;
}
