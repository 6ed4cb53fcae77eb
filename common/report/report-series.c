/* SPDX-License-Identifier: MIT */
/*
 * From the CSV (the seed's guide: "Total CPU: <5% on idle", "Memory:
 * stable (no leaks)", "CPU/memory spikes in monitor plots"):
 *
 *  - CPU (cpu_percent, the share of the machine) mean, p95 and max against
 *    the idle target of 5 %;
 *  - spikes: rows above max(median + 6 robust sigmas, 2 x median, median +
 *    3 points), merged when consecutive, each lined up with what the
 *    profile shows at that time (the session's absolute start times put
 *    both on one clock);
 *  - memory by its shape over the longest stretch with one PAM pid
 *    (mem-trend.h): a leak with its MB per hour and confidence, growth
 *    still going but unsteady, or a warm-up, plateau, step, sawtooth that
 *    is no leak and is said to be none;
 *  - py-spy's own CPU, which the seed warns distorts the figures.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"
#include "mem-trend.h"
#include "sort-util.h"

#define IDLE_CPU_TARGET 5.0
#define SPIKES_MAX 5
#define SPIKE_HITS 3

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double quantile(const double *sorted, size_t n, double q)
{
        double pos, frac;
        size_t i;

        if (n == 0)
                return NAN;
        pos = q * (double) (n - 1);
        i = (size_t) pos;
        frac = pos - (double) i;
        return i + 1 < n ? sorted[i] * (1 - frac) + sorted[i + 1] * frac : sorted[i];
}

typedef struct Stats {
        double mean, p50, p95, max, mad;
        size_t n;
} Stats;

static Stats stats_of(const float *v, size_t n)
{
        Stats s = { .mean = NAN, .p50 = NAN, .p95 = NAN, .max = NAN, .mad = NAN };
        double *x = malloc((n ? n : 1) * sizeof(double)), sum = 0;
        size_t k = 0;

        if (!x)
                return s;
        for (size_t i = 0; i < n; i++)
                if (isfinite(v[i])) {
                        x[k++] = v[i];
                        sum += v[i];
                }
        s.n = k;
        if (k > 0) {
                qsort_safe(x, k, sizeof(double), cmp_double);
                s.mean = sum / (double) k;
                s.p50 = quantile(x, k, 0.5);
                s.p95 = quantile(x, k, 0.95);
                s.max = x[k - 1];
                for (size_t i = 0; i < k; i++)
                        x[i] = fabs(x[i] - s.p50);
                qsort_safe(x, k, sizeof(double), cmp_double);
                s.mad = quantile(x, k, 0.5);
        }
        free(x);
        return s;
}

static cJSON *stats_json(const Stats *s)
{
        cJSON *o = cJSON_CreateObject();

        json_add_number(o, "mean", round_to(s->mean, 3));
        json_add_number(o, "p50", round_to(s->p50, 3));
        json_add_number(o, "p95", round_to(s->p95, 3));
        json_add_number(o, "max", round_to(s->max, 3));
        return o;
}

static void cpu_target(const Stats *cpu, const RpContext *c, cJSON *findings)
{
        RpHit hits[2];
        double total = 0;
        cJSON *f;
        int n;

        if (cpu->n == 0 || cpu->p95 < IDLE_CPU_TARGET)
                return;
        if (cpu->mean >= IDLE_CPU_TARGET)
                f = finding_new(
                        "cpu-target", SEV_PROBLEM, cpu->mean,
                        "PAM used %.1f%% of the machine on average in an idle scenario (target: under "
                        "%.0f%%)",
                        cpu->mean, IDLE_CPU_TARGET);
        else
                f = finding_new("cpu-target", SEV_WARNING, cpu->p95 - IDLE_CPU_TARGET,
                                "PAM's CPU is under the %.0f%% idle target on average (%.1f%%) but its 95th "
                                "percentile is %.1f%%",
                                IDLE_CPU_TARGET, cpu->mean, cpu->p95);
        finding_number(f, "cpu_mean", cpu->mean);
        finding_number(f, "cpu_p95", cpu->p95);
        finding_number(f, "cpu_max", cpu->max);
        finding_evidence(f,
                         "cpu_percent (share of the whole machine) over %zu rows: mean %.2f%%, p95 %.2f%%, "
                         "max %.2f%%",
                         cpu->n, cpu->mean, cpu->p95, cpu->max);
        /* Where the work went, over the whole profile. */
        n = c ? rp_window_top(c, -INFINITY, INFINITY, hits, 2, &total) : 0;
        for (int i = 0; i < n && total > 0; i++) {
                char fb[512];
                if (i == 0) {
                        finding_thread(f, c->m, hits[0].thread);
                        finding_function(f, c->m, hits[0].frame);
                }
                finding_evidence(f, "%.0f%% of the profile's work is in %s on %s (%.1f%% of a core)",
                                 100 * hits[i].seconds / total,
                                 fmt_frame(c->m, hits[i].frame, fb, sizeof(fb)),
                                 fmt_thread(c->m, hits[i].thread), 100 * hits[i].seconds / c->duration);
        }
        finding_where(
                f,
                "the session's _cpu.png (top panel) or `pamprofctl plot` on the CSV; in speedscope, the "
                "thread named here, Left Heavy view");
        finding_fix(f, "See the threads that are not idle and the hot code below.");
        cJSON_AddItemToArray(findings, f);
}

/* The profile's working samples during [a, b] of the CSV's clock; the busiest thread, or -1. */
static long spike_hits(const RpContext *c, double a, double b, cJSON *f, cJSON *o)
{
        RpHit hits[SPIKE_HITS];
        double total = 0;
        int n;
        cJSON *list;

        if (!c)
                return -1;
        n = rp_window_top(c, a, b, hits, SPIKE_HITS, &total);
        if (n <= 0 || total <= 0)
                return -1;
        list = cJSON_AddArrayToObject(o, "profile");
        for (int i = 0; i < n; i++) {
                cJSON *x;
                char fb[512];
                if (i > 0 && hits[i].seconds < 0.01 * total)
                        break; /* under 1 %: noise next to the spike */
                x = cJSON_CreateObject();
                cJSON_AddItemToObject(x, "thread", json_thread(c->m, hits[i].thread));
                cJSON_AddItemToObject(x, "function", json_frame(c->m, hits[i].frame));
                cJSON_AddNumberToObject(x, "seconds", round_to(hits[i].seconds, 4));
                cJSON_AddNumberToObject(x, "percent", round_to(100 * hits[i].seconds / total, 2));
                cJSON_AddItemToArray(list, x);
                finding_evidence(f, "then the profile shows %s on %s: %.0f%% of the working samples",
                                 fmt_frame(c->m, hits[i].frame, fb, sizeof(fb)),
                                 fmt_thread(c->m, hits[i].thread), 100 * hits[i].seconds / total);
                if (i == 0) {
                        finding_thread(f, c->m, hits[i].thread);
                        finding_function(f, c->m, hits[i].frame);
                }
        }
        return (long) hits[0].thread;
}

typedef struct Spike {
        size_t a, b, peak; /* rows */
        double t0, t1, p;
        long top;       /* the busiest thread in the profile then, or -1 */
        uint32_t frame; /* and its function there */
        size_t group;   /* the index of the first spike like it */
} Spike;

/* Two spikes alike: the same code at the top (or none), peaks within a quarter of each other. */
static bool alike(const RpContext *c, const Spike *x, const Spike *y)
{
        if (fabs(x->p - y->p) > 0.25 * fmax(x->p, y->p) || (x->top < 0) != (y->top < 0))
                return false;
        if (x->top < 0)
                return true;
        return c->m->frames[x->frame].func == c->m->frames[y->frame].func &&
                strcmp(c->m->threads[x->top].name ? c->m->threads[x->top].name : "",
                       c->m->threads[y->top].name ? c->m->threads[y->top].name : "") == 0;
}

static void spike_where(const RpContext *c, cJSON *f, long top, double a, double b)
{
        if (top >= 0)
                finding_where(
                        f,
                        "speedscope: thread %s, Time Order view from %.1f s to %.1f s (%.0f s to %.0f s of "
                        "the session, on the CSV's clock)",
                        fmt_thread(c->m, (uint32_t) top), a - c->thread_offset[top],
                        b - c->thread_offset[top], a, b);
        else if (c)
                finding_where(
                        f,
                        "speedscope: Time Order view from %.1f s to %.1f s of the profile (%.0f s to %.0f s of "
                        "the session); it shows no work then",
                        a - c->offset, b - c->offset, a, b);
        else
                finding_where(
                        f,
                        "the _cpu.png at %.0f s; with the session's profile, `pamprofctl report` names the code "
                        "running then",
                        a);
}

/* Rows above thr into sp (at most max), consecutive rows merged; the biggest peak first. Returns how many. */
static size_t find_spikes(const ReportSeries *s, double thr, Spike *sp, size_t max)
{
        size_t n = 0;

        for (size_t i = 0; i < s->n && n < max; i++) {
                if (!(s->cpu[i] > thr))
                        continue;
                if (n > 0 && sp[n - 1].b + 1 == i) {
                        sp[n - 1].b = i;
                        if (s->cpu[i] > s->cpu[sp[n - 1].peak])
                                sp[n - 1].peak = i;
                } else
                        sp[n++] = (Spike){ .a = i, .b = i, .peak = i };
        }
        /* The biggest first. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (s->cpu[sp[j].peak] > s->cpu[sp[i].peak]) {
                                Spike t = sp[i];
                                sp[i] = sp[j];
                                sp[j] = t;
                        }
        return n;
}

/* Each spike's times, peak and the code at the top of the profile then; spikes alike share a group. */
static void group_spikes(const ReportSeries *s, const RpContext *c, double interval, Spike *sp, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                RpHit hit;
                double total = 0;
                sp[i].t0 = s->t[sp[i].a] - interval;
                sp[i].t1 = s->t[sp[i].b];
                sp[i].p = s->cpu[sp[i].peak];
                sp[i].top = -1;
                sp[i].frame = SS_NONE;
                if (c && rp_window_top(c, sp[i].t0, sp[i].t1, &hit, 1, &total) > 0 && total > 0) {
                        sp[i].top = (long) hit.thread;
                        sp[i].frame = hit.frame;
                }
                sp[i].group = i;
                for (size_t j = 0; j < i; j++)
                        if (sp[j].group == j && alike(c, &sp[i], &sp[j])) {
                                sp[i].group = j;
                                break;
                        }
        }
}

/* The spikes of group i: how many, the lowest peak into *lo, their times (six at most) into when. */
static size_t group_times(const Spike *sp, size_t n, size_t i, double *lo, char *when, size_t size)
{
        size_t like = 0;

        for (size_t j = i; j < n; j++)
                if (sp[j].group == i) {
                        size_t len = strlen(when);
                        like++;
                        *lo = fmin(*lo, sp[j].p);
                        if (like <= 6 && len + 32 < size)
                                snprintf(when + len, size - len, "%s%.0f-%.0f s", like > 1 ? ", " : "",
                                         sp[j].t0, sp[j].t1);
                }
        if (like > 6)
                snprintf(when + strlen(when), size - strlen(when), ", ...");
        return like;
}

/* The finding for group i, whose biggest spike is sp[i]; its profile's code goes into o too. */
static cJSON *spike_finding(const Spike *sp, size_t n, size_t i, const Stats *cpu, double thr,
                            const RpContext *c, bool idle, cJSON *o)
{
        double a = sp[i].t0, b = sp[i].t1, peak = sp[i].p, lo = peak;
        char when[256] = "";
        size_t like = group_times(sp, n, i, &lo, when, sizeof(when));
        cJSON *f, *times;
        long top;

        if (like == 1)
                f = finding_new("cpu-spike", idle ? SEV_WARNING : SEV_NOTE, peak - cpu->p50,
                                "CPU spike to %.1f%% of the machine (usually %.1f%%) from %.0f s to %.0f s",
                                peak, cpu->p50, a, b);
        else
                f = finding_new(
                        "cpu-spike", idle ? SEV_WARNING : SEV_NOTE, peak - cpu->p50,
                        "%zu CPU spikes alike, to %.1f-%.1f%% of the machine (usually %.1f%%): at %s", like,
                        lo, peak, cpu->p50, when);
        finding_number(f, "peak_cpu_percent", peak);
        finding_number(f, "start_seconds", a);
        finding_number(f, "end_seconds", b);
        finding_number(f, "spikes", (double) like);
        finding_evidence(f,
                         "%zu row%s above %.1f%% (the median %.2f%% plus a margin of 6 robust "
                         "deviations, at least 3 points)%s",
                         sp[i].b - sp[i].a + 1, sp[i].b == sp[i].a ? "" : "s", thr, cpu->p50,
                         like > 1 ? " in the biggest" : "");
        if (like > 1)
                finding_evidence(f,
                                 "the other %zu peak within a quarter of it with the same code at the top "
                                 "of the profile, so they are one finding",
                                 like - 1);
        top = spike_hits(c, a, b, f, o);
        spike_where(c, f, top, a, b);
        times = cJSON_AddArrayToObject(f, "spikes_at");
        for (size_t j = i; j < n; j++)
                if (sp[j].group == i)
                        cJSON_AddItemToArray(times, cJSON_CreateNumber(round_to(sp[j].t0, 3)));
        return f;
}

/*
 * Rows above max(median + 6 robust sigmas, 2 x median, median + 3 points), merged when consecutive, the
 * biggest first. Spikes alike (the same code at the top, peaks within a quarter) are one finding that
 * lists them all, not five that say the same.
 */
static cJSON *spikes(const ReportSeries *s, const Stats *cpu, const RpContext *c, bool idle, double interval,
                     cJSON *findings)
{
        double thr = fmax(fmax(cpu->p50 + 6 * 1.4826 * cpu->mad, 2 * cpu->p50), cpu->p50 + 3);
        cJSON *list = cJSON_CreateArray();
        Spike sp[64];
        size_t n = find_spikes(s, thr, sp, 64), made = 0;

        group_spikes(s, c, interval, sp, n);
        for (size_t i = 0; i < n && made < SPIKES_MAX; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "start_seconds", round_to(sp[i].t0, 3));
                cJSON_AddNumberToObject(o, "end_seconds", round_to(sp[i].t1, 3));
                cJSON_AddNumberToObject(o, "peak_cpu_percent", round_to(sp[i].p, 3));
                if (sp[i].group != i) {
                        /* In the first spike like it: listed, with no finding of its own. */
                        cJSON_AddNumberToObject(o, "like_spike", (double) sp[i].group);
                        cJSON_AddItemToArray(list, o);
                        continue;
                }
                cJSON_AddItemToArray(findings, spike_finding(sp, n, i, cpu, thr, c, idle, o));
                cJSON_AddItemToArray(list, o);
                made++;
        }
        return list;
}

/* The memory section: the figures, the trend's verdict and its fit. */
static cJSON *memory_json(const ReportSeries *s, const MemTrend *m, const char *words)
{
        cJSON *o = cJSON_CreateObject();
        Stats ms = stats_of(s->mem, s->n);

        json_add_number(o, "start_mb", s->n ? round_to(s->mem[0], 2) : NAN);
        json_add_number(o, "end_mb", s->n ? round_to(s->mem[s->n - 1], 2) : NAN);
        json_add_number(o, "max_mb", round_to(ms.max, 2));
        cJSON_AddStringToObject(o, "verdict", mem_shape_name(m->shape));
        cJSON_AddStringToObject(o, "description", words);
        cJSON_AddNumberToObject(o, "fit_rows", (double) m->rows);
        json_add_number(o, "fit_seconds", round_to(m->t1 - m->t0, 1));
        json_add_number(o, "rise_mb", round_to(m->rise_mb, 3));
        json_add_number(o, "noise_mb", round_to(m->noise_mb, 4));
        if (!m->whole)
                cJSON_AddNumberToObject(o, "fit_pid", m->pid);
        if (m->shape == MEM_LEAK) {
                /* A rate only where the report calls a leak: a warm-up's line says nothing per hour. */
                cJSON_AddNumberToObject(o, "trend_mb_per_hour", round_to(m->slope, 3));
                cJSON_AddNumberToObject(o, "ci95_mb_per_hour", round_to(m->ci95, 3));
                cJSON_AddNumberToObject(o, "r2", round_to(m->r2, 4));
                cJSON_AddStringToObject(o, "confidence", m->confidence);
        }
        return o;
}

/* A new memory-leak finding: a steady rise, with its rate. */
static cJSON *leak_finding(const MemTrend *m)
{
        cJSON *f = finding_new("memory-leak", SEV_PROBLEM, fmin(100, 100 * m->slope / fmax(m->end_mb, 1)),
                               "Memory leaks: %+.1f MB per hour (%s confidence), %.1f -> %.1f MB in %.0f s, "
                               "rising steadily",
                               m->slope, m->confidence, m->first_mb, m->last_mb, m->t1 - m->t0);

        finding_number(f, "trend_mb_per_hour", m->slope);
        finding_number(f, "ci95_mb_per_hour", m->ci95);
        finding_number(f, "r2", m->r2);
        finding_evidence(f,
                         "a straight line through %zu rows of memory_mb: %+.1f MB/h, 95%% interval %+.1f "
                         "to %+.1f MB/h, R^2 %.3f",
                         m->rows, m->slope, m->slope - m->ci95, m->slope + m->ci95, m->r2);
        finding_evidence(f, "first half %+.1f MB/h, second half %+.1f MB/h: not a warm-up that stops",
                         m->first_half, m->second_half);
        return f;
}

/* A new memory-growth finding: a rise too irregular for a rate. */
static cJSON *growth_finding(const MemTrend *m)
{
        cJSON *f =
                finding_new("memory-growth", SEV_WARNING, fmin(100, 100 * m->rise_mb / fmax(m->end_mb, 1)),
                            "Memory grew %.1f MB in %.0f s and was still rising at the end, unsteadily",
                            m->rise_mb, m->t1 - m->t0);

        finding_evidence(f,
                         "a straight line explains only %.0f%% of it (first half %+.1f MB/h, second "
                         "half %+.1f MB/h): too irregular to put a rate on; run a longer session",
                         100 * m->r2, m->first_half, m->second_half);
        return f;
}

static cJSON *memory(const ReportSeries *s, cJSON *findings)
{
        cJSON *o, *f;
        MemTrend m;
        char words[512];

        mem_trend_judge(s->t, s->mem, s->pid, s->n, &m); /* pid 0 in every row when the CSV has none */
        mem_trend_describe(&m, words, sizeof(words));
        o = memory_json(s, &m, words);
        if (m.shape != MEM_LEAK && m.shape != MEM_GROWING)
                return o;
        f = m.shape == MEM_LEAK ? leak_finding(&m) : growth_finding(&m);
        finding_number(f, "growth_mb", m.rise_mb);
        finding_number(f, "seconds", m.t1 - m.t0);
        finding_evidence(
                f,
                "the rise, %.1f MB, is %.0f times the rows' scatter (%.3f MB) and over the %.1f MB a trend "
                "needs",
                m.rise_mb, m.rise_mb / m.noise_mb, m.noise_mb, m.significant_mb);
        if (!m.whole)
                finding_evidence(
                        f,
                        "over the longest stretch with one PAM pid (%d): a restart starts memory afresh, "
                        "so rows of two processes are never fitted together",
                        m.pid);
        finding_where(f,
                      "the session's _cpu.png, bottom panel; a profile cannot show allocations: use "
                      "tracemalloc or memray on PAM to find the allocating code");
        finding_fix(f,
                    "Look for caches, lists or dicts that only grow (per message, per request), and for "
                    "objects kept alive by callbacks or tasks that never finish.");
        cJSON_AddItemToArray(findings, f);
        return o;
}

static double median_interval(const ReportSeries *s)
{
        double *d;
        double r;

        if (s->n < 2)
                return 1;
        d = malloc((s->n - 1) * sizeof(double));
        if (!d)
                return 1;
        for (size_t i = 1; i < s->n; i++)
                d[i - 1] = s->t[i] - s->t[i - 1];
        qsort_safe(d, s->n - 1, sizeof(double), cmp_double);
        r = quantile(d, s->n - 1, 0.5);
        free(d);
        return r > 0 ? r : 1;
}

cJSON *report_series(const ReportSeries *s, const RpContext *c, bool idle, cJSON *findings)
{
        cJSON *o = cJSON_CreateObject();
        Stats cpu = stats_of(s->cpu, s->n);
        double interval = median_interval(s);

        cJSON_AddNumberToObject(o, "rows", (double) s->n);
        cJSON_AddNumberToObject(o, "skipped", (double) s->skipped);
        json_add_number(o, "seconds", s->n ? round_to(s->t[s->n - 1] - s->t[0] + interval, 3) : NAN);
        cJSON_AddNumberToObject(o, "interval", round_to(interval, 3));
        if (s->first_timestamp[0])
                cJSON_AddStringToObject(o, "first_timestamp", s->first_timestamp);
        cJSON_AddItemToObject(o, "cpu_percent", stats_json(&cpu));
        if (s->has_core) {
                Stats core = stats_of(s->core, s->n);
                cJSON_AddItemToObject(o, "cpu_core_percent", stats_json(&core));
        }
        cJSON_AddBoolToObject(o, "idle_target_applies", idle);
        json_add_number(o, "idle_target_percent", idle ? IDLE_CPU_TARGET : NAN);
        if (idle)
                cpu_target(&cpu, c, findings);
        if (s->n >= 10 && cpu.n >= 10)
                cJSON_AddItemToObject(o, "spikes", spikes(s, &cpu, c, idle, interval, findings));
        cJSON_AddItemToObject(o, "memory", memory(s, findings));
        if (s->has_wake) {
                Stats w = stats_of(s->wake, s->n);
                if (w.n > 0)
                        cJSON_AddItemToObject(o, "wakeups_per_second", stats_json(&w));
        }
        if (s->has_prof) {
                Stats p = stats_of(s->prof, s->n);
                cJSON *x = stats_json(&p);
                cJSON_AddItemToObject(o, "profiler_cpu_percent", x);
                json_add_number(x, "relative_to_pam_percent",
                                p.n && cpu.mean > 0 ? round_to(100 * p.mean / cpu.mean, 1) : NAN);
        }
        return o;
}
