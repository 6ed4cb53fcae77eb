/* SPDX-License-Identifier: MIT */
/*
 * What the stacks cannot show, from how often each thread wakes: the
 * wakeups_per_second of _threads.csv, the scheduler's own count (the
 * sampler's schedstat, daemon/proc/sampler.c). A sampler at 100 Hz sees a
 * thread that wakes a thousand times a second for 20 us each time asleep
 * in every sample; the wake-ups are its whole cost.
 *
 *  - polling (the seed's pattern 2, excessive polling): a thread other
 *    than an event loop that waits in almost every sample (or, when the
 *    profile has no idle samples, runs almost never by its measured CPU),
 *    yet wakes a hundred times a second or more, waiting in a sleep or a
 *    timed wait: it looks for work that is not there. A thread that waits
 *    on a queue, a socket or select wakes because work arrives: no finding.
 *  - fast periodic work on the event loop (the seed's "work that recurs
 *    every few milliseconds"): a loop thread, mostly in its selector's
 *    wait, that wakes a hundred times a second or more, with no socket
 *    callbacks (requests) in its samples to explain it; the coroutine seen
 *    in most separate runs of its samples (report_async's section) is named
 *    as the task that wakes it, with the sampling rate that would show its
 *    period.
 *
 * No name is evidence here: the wake-ups, the wait classes and the loop's
 * own frames (asyncio's) are. A thread another finding already names (a
 * busy wait, periodic work) gets the wake-ups as evidence instead.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"

#define POLL_RATE 100.0      /* wake-ups a second: more than a person would choose */
#define POLL_PROBLEM 200.0   /* ...and a problem from here */
#define WAIT_SHARE 0.9       /* of its samples, waiting */
#define MOSTLY_OFF_CPU 10.0  /* percent of a core: without idle samples, waiting by its CPU */
#define LOOP_IDLE 0.8        /* of the loop's samples, in its selector */
#define LOOP_SOCKET_EVENTS 2 /* socket callbacks a second that could explain the wake-ups */
#define CORO_MAX 4

/* The finding of one of these kinds that names thread tid, or NULL. */
static cJSON *named_by(cJSON *findings, long tid)
{
        cJSON *f;

        cJSON_ArrayForEach(f, findings)
        {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(f, "kind");
                if (tid > 0 && finding_tid(f) == tid && cJSON_IsString(k) &&
                    (strcmp(k->valuestring, "busy-wait") == 0 || strcmp(k->valuestring, "periodic") == 0 ||
                     strcmp(k->valuestring, "per-event") == 0))
                        return f;
        }
        return NULL;
}

static void add_wakeups_evidence(cJSON *f, const RpThread *rt)
{
        finding_number(f, "wakeups_per_second", rt->wakeups_mean);
        finding_evidence(f,
                         "the scheduler put the thread on a CPU %.0f times a second on average (max %.0f; "
                         "_threads.csv): how often it really runs, which samples can only bound",
                         rt->wakeups_mean, rt->wakeups_max);
}

/* How the thread waits most, of the kinds that are waits. */
static WaitKind main_wait(const RpThread *rt)
{
        WaitKind best = WAIT_NONE;

        for (int k = WAIT_SLEEP; k < WAIT_KIND_MAX; k++)
                if (rt->wait_s[k] > 0 && (best == WAIT_NONE || rt->wait_s[k] > rt->wait_s[best]))
                        best = (WaitKind) k;
        return best;
}

/* The waiting node thread ti holds longest: its wait's leaf (SS_NONE: none). */
static uint32_t longest_wait_node(const RpContext *c, uint32_t ti)
{
        const SsModel *m = c->m;
        uint32_t best = SS_NONE;

        for (uint32_t n = m->threads[ti].root; n < m->n_nodes && m->nodes[n].thread == ti; n++)
                if (m->nodes[n].self_n && m->nodes[n].frame != SS_NONE && rp_waits(c, n) &&
                    (best == SS_NONE || m->nodes[n].self_s > m->nodes[best].self_s))
                        best = n;
        return best;
}

static const char *wait_words(WaitKind k)
{
        switch (k) {
        case WAIT_SLEEP:
                return "sleeps";
        case WAIT_INFERRED:
                return "waits in a call the sampler cannot see into (by its measured CPU: a sleep, most likely)";
        case WAIT_LOCK:
                return "waits on a lock, condition or event (with a timeout, or woken by another thread)";
        default:
                return "waits";
        }
}

/* Whether thread ti polls: it wakes often, yet waits (or stays off the CPU) nearly always, in a
 * sleep or a timed wait, and no other finding names it. */
static bool polls(const RpContext *c, uint32_t ti, WaitKind how, cJSON *findings)
{
        const RpThread *rt = &c->threads[ti];
        double idle = rt->seconds > 0 ? rt->idle_s / rt->seconds : NAN;

        if (!rt->has_wakeups || !(rt->wakeups_mean >= POLL_RATE) || rt->event_loop || rt->garbage)
                return false;
        if (c->idle_included ? !(idle >= WAIT_SHARE) : !(rt->has_cpu && rt->cpu_mean <= MOSTLY_OFF_CPU))
                return false;
        if (c->idle_included && how != WAIT_SLEEP && how != WAIT_INFERRED && how != WAIT_LOCK)
                return false; /* a queue, a socket, select: it wakes because work arrives */
        if (named_by(findings, c->m->threads[ti].tid))
                return false; /* that finding has the wake-ups (report_wakeups) */
        return true;
}

/* The own-code frame a polling thread waits at, and in *ret_leaf the wait's leaf (SS_NONE: not known). */
static uint32_t polling_frame(const RpContext *c, uint32_t ti, uint32_t *ret_leaf)
{
        uint32_t node = c->idle_included ? longest_wait_node(c, ti) : SS_NONE;
        double secs;

        if (node != SS_NONE) {
                *ret_leaf = c->m->nodes[node].frame;
                return rp_own_frame(c, node);
        }
        *ret_leaf = SS_NONE;
        return report_thread_top_frame(c, ti, &secs);
}

/* A new polling finding with its headline; fb names where it waits. */
static cJSON *polling_headline(const RpContext *c, uint32_t ti, const char *fb)
{
        const RpThread *rt = &c->threads[ti];

        if (rt->has_cpu)
                return finding_new(
                        "polling", rt->wakeups_mean >= POLL_PROBLEM ? SEV_PROBLEM : SEV_WARNING,
                        rt->cpu_mean,
                        "%s polls: it wakes %.0f times a second, %s, waiting at %s in between: %.1f%% "
                        "of a core",
                        fmt_thread(c->m, ti), rt->wakeups_mean,
                        c->idle_included ? "idle in almost every sample" : "on the CPU almost never", fb,
                        rt->cpu_mean);
        return finding_new(
                "polling", SEV_WARNING, 0,
                "%s polls: it wakes %.0f times a second, idle in almost every sample, waiting at %s",
                fmt_thread(c->m, ti), rt->wakeups_mean, fb);
}

/* The evidence of a polling finding: how it waits, how often it wakes, what each wake-up costs. */
static void polling_evidence(const RpContext *c, uint32_t ti, cJSON *f, uint32_t frame, uint32_t leaf,
                             const char *fb, double us)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        double idle = rt->seconds > 0 ? rt->idle_s / rt->seconds : NAN;
        char lb[512];

        if (c->idle_included)
                finding_evidence(f, "idle in %.1f%% of its %llu samples; it %s at %s%s%s", 100 * idle,
                                 (unsigned long long) rt->n_seen, wait_words(main_wait(rt)), fb,
                                 leaf != SS_NONE && leaf != frame ? ", in " : "",
                                 leaf != SS_NONE && leaf != frame ? fmt_frame(m, leaf, lb, sizeof(lb)) : "");
        else
                finding_evidence(
                        f,
                        "%s left its waits out of the profile; its measured CPU, %.1f%% of a core, says it "
                        "runs almost never",
                        c->sampler, rt->cpu_mean);
        finding_evidence(
                f,
                "yet the scheduler put it on a CPU %.0f times a second on average (max %.0f, over %zu "
                "rows of _threads.csv): once every %.1f ms",
                rt->wakeups_mean, rt->wakeups_max, rt->cpu_rows, 1000 / rt->wakeups_mean);
        if (rt->has_cpu)
                finding_evidence(
                        f,
                        "its measured CPU, %.2f%% of a core, is about %.0f us a wake-up: runs that short "
                        "fall between the samples %.0f ms apart, so %s",
                        rt->cpu_mean, us, 1000 * c->interval,
                        c->idle_included ? "the stacks show it asleep" : "the samples rarely catch it");
}

static void polling(const RpContext *c, uint32_t ti, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        double idle = rt->seconds > 0 ? rt->idle_s / rt->seconds : NAN, us;
        uint32_t frame, leaf;
        char fb[512];
        cJSON *f;

        if (!polls(c, ti, main_wait(rt), findings))
                return;
        frame = polling_frame(c, ti, &leaf);
        if (frame == SS_NONE)
                return;
        fmt_frame(m, frame, fb, sizeof(fb));
        us = rt->has_cpu ? 1e6 * rt->cpu_mean / 100 / rt->wakeups_mean : NAN;
        f = polling_headline(c, ti, fb);
        finding_thread(f, m, ti);
        finding_function(f, m, frame);
        finding_number(f, "wakeups_per_second", rt->wakeups_mean);
        finding_number(f, "wakeups_max", rt->wakeups_max);
        finding_number(f, "every_ms", 1000 / rt->wakeups_mean);
        json_add_number(cJSON_GetObjectItemCaseSensitive(f, "numbers"), "idle_percent",
                        c->idle_included ? round_to(100 * idle, 2) : NAN);
        if (rt->has_cpu) {
                finding_number(f, "cpu_mean", rt->cpu_mean);
                finding_number(f, "core_percent", rt->cpu_mean);
                finding_number(f, "cpu_per_wakeup_us", us);
        }
        polling_evidence(c, ti, f, frame, leaf, fb, us);
        finding_where(
                f,
                "speedscope: thread %s, Time Order view: one unbroken bar at %s; the wake-ups are too short "
                "for the sampler: the wakeups_per_second column of _threads.csv counts them",
                fmt_thread(m, ti), m->frames[frame].name);
        finding_fix(
                f,
                "Block on what it waits for instead of sleeping in a loop: a threading.Event or Condition the "
                "producer sets, queue.get() without a timeout, select/poll on the socket; if it must poll, "
                "every 50-100 ms is 50-100 times fewer wake-ups than every millisecond.");
        cJSON_AddItemToArray(findings, f);
}

/* The loop thread's entry of report_async's section, by tid. */
static const cJSON *loop_entry(const cJSON *loops, long tid)
{
        const cJSON *o;

        cJSON_ArrayForEach(o, loops)
        {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(
                        cJSON_GetObjectItemCaseSensitive(o, "thread"), "tid");
                if (cJSON_IsNumber(t) && (long) t->valuedouble == tid)
                        return o;
        }
        return NULL;
}

static double jnum(const cJSON *o, const char *key)
{
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *jname(const cJSON *co)
{
        const cJSON *name =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(co, "function"), "name");

        return cJSON_IsString(name) ? name->valuestring : "?";
}

static bool is_stdlib(const cJSON *co)
{
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(co, "function"),
                    *file = cJSON_GetObjectItemCaseSensitive(fn, "file");
        SsFrame f = { .name = jname(co), .file = cJSON_IsString(file) ? file->valuestring : "" };

        return frame_is_stdlib(&f);
}

/* "name (file:line)" of a function object of the JSON */
static const char *jfunc(const cJSON *fn, char *buf, size_t size)
{
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name"),
                    *file = cJSON_GetObjectItemCaseSensitive(fn, "file"),
                    *line = cJSON_GetObjectItemCaseSensitive(fn, "line");

        if (cJSON_IsNumber(line))
                snprintf(buf, size, "%s (%s:%.0f)", cJSON_IsString(name) ? name->valuestring : "?",
                         cJSON_IsString(file) ? short_file(file->valuestring) : "?", line->valuedouble);
        else
                snprintf(buf, size, "%s (%s)", cJSON_IsString(name) ? name->valuestring : "?",
                         cJSON_IsString(file) ? short_file(file->valuestring) : "?");
        return buf;
}

/* What loop_wakeups found about one event loop's thread. */
typedef struct LoopWake {
        double idle;       /* share of its samples in the selector's wait (NAN without samples) */
        double events;     /* separate socket callbacks a second */
        double hz;         /* the sampling rate */
        double period_ms;  /* time between wake-ups */
        double visible_hz; /* the sampling rate that would show the period */
        const cJSON *top;  /* the program's coroutine seen in most runs, or NULL */
        double top_runs;   /* its runs */
        double step_us;    /* its time a wake-up, if the wake-ups are its */
        char tb[512];      /* its "name (file:line)" */
} LoopWake;

/* The program's coroutine (not asyncio's own callbacks) seen in most separate runs, or NULL. */
static const cJSON *busiest_coroutine(const cJSON *entry, double *ret_runs)
{
        const cJSON *co, *top = NULL;
        double top_runs = 0;

        cJSON_ArrayForEach(co, cJSON_GetObjectItemCaseSensitive(entry, "coroutines"))
        {
                double runs = jnum(co, "runs_seen");
                if (!(runs > 0) || is_stdlib(co))
                        continue; /* asyncio's own callbacks are not the program's task */
                if (runs > top_runs) {
                        top_runs = runs;
                        top = co;
                }
        }
        *ret_runs = top_runs;
        return top;
}

/* The first CORO_MAX coroutines seen in the loop's samples, as words into list; returns how many. */
static size_t coroutine_list(const cJSON *entry, char *list, size_t size)
{
        const cJSON *co;
        char fb[512];
        size_t len = 0, n = 0;

        cJSON_ArrayForEach(co, cJSON_GetObjectItemCaseSensitive(entry, "coroutines"))
        {
                double runs = jnum(co, "runs_seen");
                if (!(runs > 0) || n >= CORO_MAX || len >= size - 1)
                        continue;
                len += (size_t) snprintf(
                        list + len, size - len, "%s%s in %.0f separate run%s (%.2f%% of the loop's time)",
                        n ? ", " : "",
                        jfunc(cJSON_GetObjectItemCaseSensitive(co, "function"), fb, sizeof(fb)), runs,
                        runs == 1 ? "" : "s", jnum(co, "loop_percent"));
                n++;
        }
        return n;
}

/* A new loop-wakeups finding with its headline, its thread and the coroutine it names. */
static cJSON *loop_headline(const RpContext *c, uint32_t ti, const LoopWake *w)
{
        const RpThread *rt = &c->threads[ti];
        cJSON *f;

        if (w->top)
                f = finding_new(
                        "loop-wakeups", SEV_PROBLEM, rt->has_cpu ? rt->cpu_mean : 0,
                        "The event loop of %s wakes %.0f times a second (every %.1f ms) for work too short "
                        "to sample: fast periodic work, most likely %s, the coroutine seen in most runs",
                        fmt_thread(c->m, ti), rt->wakeups_mean, w->period_ms, w->tb);
        else
                f = finding_new(
                        "loop-wakeups", SEV_WARNING, rt->has_cpu ? rt->cpu_mean : 0,
                        "The event loop of %s wakes %.0f times a second (every %.1f ms) for work too short "
                        "to sample: fast periodic work that no sample caught",
                        fmt_thread(c->m, ti), rt->wakeups_mean, w->period_ms);
        finding_thread(f, c->m, ti);
        if (w->top) {
                const cJSON *fn = cJSON_GetObjectItemCaseSensitive(w->top, "function");
                cJSON_AddItemToObject(f, "function", cJSON_Duplicate(fn, true));
        }
        return f;
}

/* The numbers of a loop-wakeups finding. */
static void loop_numbers(const RpContext *c, const RpThread *rt, const LoopWake *w, cJSON *f)
{
        finding_number(f, "wakeups_per_second", rt->wakeups_mean);
        finding_number(f, "wakeups_max", rt->wakeups_max);
        finding_number(f, "every_ms", w->period_ms);
        json_add_number(cJSON_GetObjectItemCaseSensitive(f, "numbers"), "idle_percent",
                        c->idle_included ? round_to(100 * w->idle, 2) : NAN);
        finding_number(f, "socket_events_per_second", w->events);
        finding_number(f, "sampling_hz", w->hz);
        finding_number(f, "period_visible_hz", w->visible_hz);
        if (w->top) {
                finding_number(f, "runs_seen", w->top_runs);
                finding_number(f, "step_us", w->step_us);
        }
        if (rt->has_cpu) {
                finding_number(f, "cpu_mean", rt->cpu_mean);
                finding_number(f, "core_percent", rt->cpu_mean);
        }
}

/* The evidence of a loop-wakeups finding: the wake-ups, the coroutines seen, the rate that would show them. */
static void loop_evidence(const RpContext *c, const RpThread *rt, const LoopWake *w, const cJSON *entry,
                          cJSON *f)
{
        char list[1024] = "";
        size_t n = coroutine_list(entry, list, sizeof(list));

        if (c->idle_included)
                finding_evidence(
                        f,
                        "the scheduler put the loop's thread on a CPU %.0f times a second on average (max "
                        "%.0f, over %zu rows of _threads.csv), while %.1f%% of its samples are in the "
                        "selector's wait",
                        rt->wakeups_mean, rt->wakeups_max, rt->cpu_rows, 100 * w->idle);
        else
                finding_evidence(
                        f,
                        "the scheduler put the loop's thread on a CPU %.0f times a second on average (max "
                        "%.0f, over %zu rows of _threads.csv); it used %.1f%% of a core",
                        rt->wakeups_mean, rt->wakeups_max, rt->cpu_rows, rt->cpu_mean);
        finding_evidence(
                f,
                "coroutines seen in its samples: %s; no socket callbacks (requests) that could wake it as "
                "often (%.1f separate ones a second)",
                n ? list : "none", w->events);
        if (w->top)
                finding_evidence(
                        f,
                        "if those wake-ups are %s's, each run takes about %.0f us: at %.0f Hz one run in "
                        "%.0f is sampled, too few to show its period",
                        jname(w->top), w->step_us, w->hz, fmax(1, 1e6 / (w->step_us * w->hz)));
        finding_evidence(
                f,
                "a sampling rate of %.0f Hz or more (two samples a period: py-spy --rate %.0f, Austin -i "
                "%.0f) would show its period of about %.1f ms; runs of tens of microseconds are counted "
                "reliably only by the wake-ups",
                w->visible_hz, w->visible_hz, 1e6 / w->visible_hz, w->period_ms);
        if (rt->has_cpu)
                finding_evidence(f, "the loop's thread used %.1f%% of a core (measured)", rt->cpu_mean);
}

static void loop_wakeups(const RpContext *c, uint32_t ti, const cJSON *loops, cJSON *findings)
{
        const SsModel *m = c->m;
        const RpThread *rt = &c->threads[ti];
        const cJSON *entry = loop_entry(loops, m->threads[ti].tid);
        LoopWake w = {
                .idle = rt->seconds > 0 ? rt->idle_s / rt->seconds : NAN,
                .hz = 1 / c->interval,
                .period_ms = 1000 / rt->wakeups_mean,
                /* Two samples a period, rounded up to a hundred: what would show the period. */
                .visible_hz = 100 * ceil(2 * rt->wakeups_mean / 100),
                .step_us = NAN,
        };
        cJSON *f;

        if (!rt->has_wakeups || !(rt->wakeups_mean >= POLL_RATE))
                return;
        if (c->idle_included ? !(w.idle >= LOOP_IDLE) : !(rt->has_cpu && rt->cpu_mean <= 2 * MOSTLY_OFF_CPU))
                return; /* a loop that is busy: its samples show its work */
        w.events = report_socket_events_per_second(c, ti);
        if (w.events >= LOOP_SOCKET_EVENTS)
                return; /* requests it serves can wake it that often */
        if (named_by(findings, m->threads[ti].tid))
                return; /* that finding has the wake-ups (report_wakeups) */
        w.top = busiest_coroutine(entry, &w.top_runs);
        if (w.top) {
                jfunc(cJSON_GetObjectItemCaseSensitive(w.top, "function"), w.tb, sizeof(w.tb));
                w.step_us = 1e6 * jnum(w.top, "seconds") / (rt->wakeups_mean * rt->seconds);
        }
        f = loop_headline(c, ti, &w);
        loop_numbers(c, rt, &w, f);
        loop_evidence(c, rt, &w, entry, f);
        if (w.top)
                finding_where(
                        f,
                        "speedscope: thread %s, Sandwich view: search \"%s\": a few scattered single samples; "
                        "the wakeups_per_second column of _threads.csv shows how often it runs",
                        fmt_thread(m, ti), jname(w.top));
        else
                finding_where(
                        f,
                        "the wakeups_per_second column of _threads.csv for %s; speedscope cannot show runs "
                        "this short at %.0f Hz",
                        fmt_thread(m, ti), w.hz);
        finding_fix(
                f,
                "Run it less often (every 50-100 ms, or seconds), or on change: await an asyncio.Event or "
                "Queue that the producer sets instead of waking every few milliseconds to look.");
        cJSON_AddItemToArray(findings, f);
}

void report_wakeups(const RpContext *c, const cJSON *loops, cJSON *findings)
{
        for (uint32_t ti = 0; ti < c->m->n_threads; ti++) {
                const RpThread *rt = &c->threads[ti];
                cJSON *f;
                if (rt->seconds < 1.0 || rt->garbage || !rt->has_wakeups)
                        continue;
                /* A spin or periodic work already found: how often it really runs is its evidence. */
                if ((f = named_by(findings, c->m->threads[ti].tid))) {
                        add_wakeups_evidence(f, rt);
                        continue;
                }
                if (rt->event_loop)
                        loop_wakeups(c, ti, loops, findings);
                else
                        polling(c, ti, findings);
        }
}
