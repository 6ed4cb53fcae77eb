/* SPDX-License-Identifier: MIT */
/*
 * Redundant serialization (the seed's pattern 4):
 *
 *   send_message() ━━━━━━━━━━━━━
 *   ├─ json.dumps() ━━━━━ 40%
 *   ├─ json.loads() ━━━━━ 40%
 *   └─ actual_work() ━ 20%
 *
 * Each working sample in json or pickle is charged to the caller: the
 * frame just above the outermost serializer frame (json.dumps calls
 * encoder.encode: the caller is the one who called dumps). A caller seen
 * both dumping and loading is a finding whatever it costs (issue 13: the
 * seed's guide asks exactly this question), ranked by its measured cost,
 * its share of a core: 1 % or more a problem, 0.2 % a warning, less a note
 * at the bottom. A problem or a warning needs two samples each way; one
 * sample either way is a note whatever it seems to cost.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"
#include "sort-util.h"

#define PROBLEM_CORE 1.0 /* percent of a core */
#define WARNING_CORE 0.2
#define MIN_SAMPLES 2 /* each way, for more than a note */

typedef struct Caller {
        uint32_t thread, func;
        uint32_t dump_frame, load_frame; /* the caller's lines where it dumps and loads */
        double dump_s, load_s, total_s;
        uint64_t dump_n, load_n;
        const char *lib;
} Caller;

static Caller *caller_get(Caller **v, size_t *n, size_t *cap, uint32_t thread, uint32_t func)
{
        for (size_t i = 0; i < *n; i++)
                if ((*v)[i].thread == thread && (*v)[i].func == func)
                        return &(*v)[i];
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                Caller *x = realloc(*v, nc * sizeof(Caller));
                if (!x)
                        return NULL;
                *v = x;
                *cap = nc;
        }
        (*v)[*n] = (Caller){ .thread = thread, .func = func, .dump_frame = SS_NONE, .load_frame = SS_NONE };
        return &(*v)[(*n)++];
}

/* The outermost serializer frame's node on the path to n, its kind and library. */
static uint32_t outermost(const SsModel *m, uint32_t n, SerKind *ret_kind, const char **ret_lib)
{
        uint32_t found = SS_NONE;

        for (uint32_t p = n; p != SS_NONE && m->nodes[p].frame != SS_NONE; p = m->nodes[p].parent) {
                const char *lib = NULL;
                SerKind k = classify_serializer(ss_node_frame(m, p), &lib);
                if (k != SER_NONE) {
                        found = p;
                        *ret_kind = k;
                        *ret_lib = lib;
                }
        }
        return found;
}

/* Seconds of thread ti's working samples with func on the stack. */
static double func_total(const RpContext *c, uint32_t ti, uint32_t func)
{
        const SsModel *m = c->m;
        double total = 0;

        for (uint32_t n = m->threads[ti].root; n < m->n_nodes && m->nodes[n].thread == ti; n++) {
                if (m->nodes[n].self_n == 0 || rp_kind(c, n) != WAIT_NONE)
                        continue;
                for (uint32_t p = n; p != SS_NONE && m->nodes[p].frame != SS_NONE; p = m->nodes[p].parent)
                        if (ss_node_func(m, p) == func) {
                                total += m->nodes[n].self_s;
                                break;
                        }
        }
        return total;
}

static void flag(const RpContext *c, const Caller *k, cJSON *findings)
{
        const SsModel *m = c->m;
        double both = k->dump_s + k->load_s, share = both / k->total_s, core = 100 * both / c->duration;
        uint32_t line = k->dump_frame != SS_NONE ? k->dump_frame : k->load_frame;
        bool enough = k->dump_n >= MIN_SAMPLES && k->load_n >= MIN_SAMPLES;
        Severity sev = !enough         ? SEV_NOTE
                : core >= PROBLEM_CORE ? SEV_PROBLEM
                : core >= WARNING_CORE ? SEV_WARNING
                                       : SEV_NOTE;
        char fb[512], db[512], lb[512], sb[32];
        cJSON *f;

        if (sev == SEV_NOTE)
                f = finding_new(
                        "serialization", sev, core,
                        "%s on %s both serializes and parses (%s dumps and loads): cheap here, %.2f%% of a "
                        "core, but work that can usually be kept",
                        m->funcs[k->func].name, fmt_thread(m, k->thread), k->lib, core);
        else
                f = finding_new(
                        "serialization", sev, core,
                        "%s on %s both serializes and parses (%s dumps and loads): %.1f%% of a core, %.0f%% "
                        "of its time",
                        m->funcs[k->func].name, fmt_thread(m, k->thread), k->lib, core, 100 * share);
        finding_thread(f, m, k->thread);
        finding_function(f, m, line);
        finding_number(f, "dumps_seconds", k->dump_s);
        finding_number(f, "loads_seconds", k->load_s);
        finding_number(f, "caller_seconds", k->total_s);
        finding_number(f, "caller_percent", 100 * share);
        finding_number(f, "core_percent", core);
        fmt_frame(m, line, fb, sizeof(fb));
        finding_evidence(f, "%s: dumps %.0f%% of its time (%s, called at %s), loads %.0f%% (called at %s)",
                         fb, 100 * k->dump_s / k->total_s, fmt_seconds(k->dump_s, sb, sizeof(sb)),
                         k->dump_frame != SS_NONE ? fmt_frame(m, k->dump_frame, db, sizeof(db)) : "?",
                         100 * k->load_s / k->total_s,
                         k->load_frame != SS_NONE ? fmt_frame(m, k->load_frame, lb, sizeof(lb)) : "?");
        if (k->dump_frame != SS_NONE && k->dump_frame == k->load_frame)
                finding_evidence(
                        f, "it dumps and loads on one line, %s: it parses back what it has just serialized",
                        fb);
        else
                finding_evidence(f,
                                 "it dumps and loads on different lines: a round trip when what it loads is "
                                 "what it dumped (a copy, a check), two messages when not");
        finding_evidence(f, "%.2f%% of a core over the profile; %llu and %llu samples",
                         100 * both / c->duration, (unsigned long long) k->dump_n,
                         (unsigned long long) k->load_n);
        finding_where(
                f,
                "speedscope: thread %s, Sandwich view: search \"%s\" and look at its callees dumps and "
                "loads side by side",
                fmt_thread(m, k->thread), m->funcs[k->func].name);
        finding_fix(
                f,
                "Serialize once and pass the object (or the bytes) along; cache the serialized form if it "
                "is sent again; do not round-trip through JSON to copy or validate.");
        cJSON_AddItemToArray(findings, f);
}

static int caller_desc(const void *a, const void *b)
{
        const Caller *x = a, *y = b;
        double sx = x->dump_s + x->load_s, sy = y->dump_s + y->load_s;

        return sx < sy ? 1 : sx > sy ? -1 : 0;
}

/* The callers of serialization found so far, and the time in it with or without a caller named. */
typedef struct SerScan {
        Caller *v;
        size_t n, cap;
        double dump_all, load_all;
} SerScan;

/* Thread ti's working samples in serialization, to the function that called it. */
static void scan_thread(const RpContext *c, uint32_t ti, SerScan *ss)
{
        const SsModel *m = c->m;

        for (uint32_t nd = m->threads[ti].root; nd < m->n_nodes && m->nodes[nd].thread == ti; nd++) {
                const char *lib = NULL;
                SerKind kind = SER_NONE;
                uint32_t s, caller;
                Caller *k;
                if (m->nodes[nd].self_n == 0 || rp_kind(c, nd) != WAIT_NONE)
                        continue;
                s = outermost(m, nd, &kind, &lib);
                if (s == SS_NONE)
                        continue;
                caller = m->nodes[s].parent;
                if (caller == SS_NONE || m->nodes[caller].frame == SS_NONE)
                        continue;
                if (frame_is_invalid(ss_node_frame(m, caller))) {
                        /* the sampler lost the stack above it: the time counts, no caller is named */
                        *(kind == SER_DUMPS ? &ss->dump_all : &ss->load_all) += m->nodes[nd].self_s;
                        continue;
                }
                k = caller_get(&ss->v, &ss->n, &ss->cap, ti, ss_node_func(m, caller));
                if (!k)
                        return;
                k->lib = lib;
                if (kind == SER_DUMPS) {
                        k->dump_s += m->nodes[nd].self_s;
                        k->dump_n += m->nodes[nd].self_n;
                        k->dump_frame = m->nodes[caller].frame;
                        ss->dump_all += m->nodes[nd].self_s;
                } else {
                        k->load_s += m->nodes[nd].self_s;
                        k->load_n += m->nodes[nd].self_n;
                        k->load_frame = m->nodes[caller].frame;
                        ss->load_all += m->nodes[nd].self_s;
                }
        }
}

/* A caller's entry of the section. */
static cJSON *caller_json(const RpContext *c, const Caller *k)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToObject(o, "thread", json_thread(c->m, k->thread));
        cJSON_AddItemToObject(o, "function",
                              json_frame(c->m, k->dump_frame != SS_NONE ? k->dump_frame : k->load_frame));
        cJSON_AddNumberToObject(o, "dumps_seconds", round_to(k->dump_s, 4));
        cJSON_AddNumberToObject(o, "loads_seconds", round_to(k->load_s, 4));
        json_add_number(o, "caller_percent",
                        k->total_s > 0 ? round_to(100 * (k->dump_s + k->load_s) / k->total_s, 2) : NAN);
        return o;
}

cJSON *report_serialization(const RpContext *c, cJSON *findings)
{
        SerScan ss = { 0 };
        cJSON *sec = cJSON_CreateObject(), *callers;

        if (!sec)
                return NULL;
        for (uint32_t ti = 0; ti < c->m->n_threads; ti++)
                scan_thread(c, ti, &ss);
        if (ss.n)
                qsort_safe(ss.v, ss.n, sizeof(Caller), caller_desc);
        cJSON_AddNumberToObject(sec, "dumps_seconds", round_to(ss.dump_all, 4));
        cJSON_AddNumberToObject(sec, "loads_seconds", round_to(ss.load_all, 4));
        json_add_number(sec, "core_percent",
                        c->duration > 0 ? round_to(100 * (ss.dump_all + ss.load_all) / c->duration, 4)
                                        : NAN);
        callers = cJSON_AddArrayToObject(sec, "callers");
        for (size_t i = 0; i < ss.n; i++) {
                Caller *k = &ss.v[i];
                k->total_s = func_total(c, k->thread, k->func);
                cJSON_AddItemToArray(callers, caller_json(c, k));
                if (k->dump_n >= 1 && k->load_n >= 1 && k->total_s > 0)
                        flag(c, k, findings);
        }
        free(ss.v);
        return sec;
}
