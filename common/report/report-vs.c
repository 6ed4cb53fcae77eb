/* SPDX-License-Identifier: MIT */
/*
 * --vs: what changed between two sessions. Threads are matched by name
 * (tids change from run to run; py-spy's names are Python's thread names)
 * and compared by the share of a core they spend working; a thread with no
 * name (Austin's "Thread 8706": its kernel name is the process's) is no
 * match for a thread of the same tid in another run, so unnamed threads
 * count together by their entry function ("unnamed threads in
 * WorkerThread.run"), and threads of one name (a later PAM's) add up; functions by
 * (name, file) and their self time as a share of a core. The lists keep
 * the largest changes either way. The CSV figures go side by side, and the
 * threads whose wake-ups a second (_threads.csv) changed most: a poller
 * fixed shows there, not in the work, which was never in the samples.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "report-finding.h"
#include "sort-util.h"

#define TOP_CHANGES 10

typedef struct VsItem {
        char *name, *file; /* file: NULL for threads */
        int line;
        double core;    /* percent of one core */
        double idle;    /* threads: idle percent; NAN */
        double wakeups; /* threads: wake-ups a second, summed over threads of one name; NAN: not measured */
} VsItem;

struct VsSide {
        char *label;
        VsItem *threads, *funcs;
        size_t n_threads, n_funcs;
        cJSON *csv;
        double duration;
};

void report_vs_side_free(VsSide *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n_threads; i++)
                free(s->threads[i].name);
        for (size_t i = 0; i < s->n_funcs; i++) {
                free(s->funcs[i].name);
                free(s->funcs[i].file);
        }
        free(s->threads);
        free(s->funcs);
        free(s->label);
        cJSON_Delete(s->csv);
        free(s);
}

/* The name thread i is matched by: its own, or "unnamed threads in" its entry function. */
static void thread_key(const RpContext *c, uint32_t i, char *key, size_t size)
{
        const SsModel *m = c->m;
        const SsThread *th = &m->threads[i];

        if (th->profile_name && !strchr(th->profile_name, '"')) {
                uint32_t e = report_thread_entry(c, i);
                snprintf(key, size, "unnamed threads in %s",
                         e != SS_NONE ? m->frames[e].name : "code of their own unseen");
        } else
                snprintf(key, size, "%s", th->name ? th->name : "");
}

/* The side's threads by key, threads of one key added up. */
static int side_threads(const RpContext *c, VsSide *s)
{
        for (uint32_t i = 0; i < c->m->n_threads; i++) {
                const RpThread *rt = &c->threads[i];
                char key[512];
                VsItem *t = NULL;
                if (rt->garbage || rt->n_seen == 0)
                        continue;
                thread_key(c, i, key, sizeof(key));
                for (size_t k = 0; k < s->n_threads && !t; k++)
                        if (strcmp(s->threads[k].name, key) == 0)
                                t = &s->threads[k];
                if (t) {
                        t->core += c->duration > 0 ? 100 * rt->work_s / c->duration : NAN;
                        t->idle = NAN; /* several threads: no one idle share */
                        if (rt->has_wakeups)
                                t->wakeups = (isfinite(t->wakeups) ? t->wakeups : 0) + rt->wakeups_mean;
                        continue;
                }
                t = &s->threads[s->n_threads++];
                t->name = strdup(key);
                t->core = c->duration > 0 ? 100 * rt->work_s / c->duration : NAN;
                t->idle = rt->seconds > 0 ? 100 * rt->idle_s / rt->seconds : NAN;
                t->wakeups = rt->has_wakeups ? rt->wakeups_mean : NAN;
                if (!t->name)
                        return -1;
        }
        return 0;
}

/* Working self time per function into self, per line into lines, and each function's busiest line. */
static void self_times(const RpContext *c, double *self, double *lines, uint32_t *line)
{
        const SsModel *m = c->m;

        for (uint32_t n = 0; n < m->n_nodes; n++)
                if (m->nodes[n].self_n && m->nodes[n].frame != SS_NONE && rp_kind(c, n) == WAIT_NONE) {
                        self[ss_node_func(m, n)] += m->nodes[n].self_s;
                        lines[m->nodes[n].frame] += m->nodes[n].self_s;
                }
        memset(line, 0xff, (m->n_funcs ? m->n_funcs : 1) * sizeof(uint32_t));
        for (uint32_t f = 0; f < m->n_frames; f++) {
                uint32_t fn = m->frames[f].func;
                if (line[fn] == SS_NONE || lines[f] > lines[line[fn]])
                        line[fn] = f;
        }
}

/* The side's functions with working self time, at their busiest line. */
static int side_funcs(const RpContext *c, VsSide *s)
{
        const SsModel *m = c->m;
        double *self = calloc(m->n_funcs ? m->n_funcs : 1, sizeof(double));
        uint32_t *line = malloc((m->n_funcs ? m->n_funcs : 1) * sizeof(uint32_t));
        double *lines = calloc(m->n_frames ? m->n_frames : 1, sizeof(double));
        int r = -1;

        if (!self || !line || !lines)
                goto out;
        self_times(c, self, lines, line);
        for (uint32_t fn = 0; fn < m->n_funcs; fn++) {
                VsItem *x;
                if (self[fn] <= 0)
                        continue;
                x = &s->funcs[s->n_funcs++];
                x->name = strdup(m->funcs[fn].name);
                x->file = strdup(m->funcs[fn].file);
                x->line = line[fn] != SS_NONE ? m->frames[line[fn]].line : 0;
                x->core = c->duration > 0 ? 100 * self[fn] / c->duration : NAN;
                x->idle = NAN;
                x->wakeups = NAN;
                if (!x->name || !x->file)
                        goto out;
        }
        r = 0;
out:
        free(self);
        free(line);
        free(lines);
        return r;
}

static int side_profile(const RpContext *c, VsSide *s)
{
        const SsModel *m = c->m;

        s->threads = calloc(m->n_threads ? m->n_threads : 1, sizeof(VsItem));
        s->funcs = calloc(m->n_funcs ? m->n_funcs : 1, sizeof(VsItem));
        if (!s->threads || !s->funcs)
                return -1;
        s->duration = c->duration;
        if (side_threads(c, s) < 0 || side_funcs(c, s) < 0)
                return -1;
        return 0;
}

VsSide *report_vs_side(const RpContext *c, const cJSON *csv, const char *label)
{
        VsSide *s = calloc(1, sizeof(VsSide));

        if (!s)
                return NULL;
        s->label = strdup(label ? label : "other");
        s->csv = csv ? cJSON_Duplicate(csv, true) : NULL;
        if (!s->label || (csv && !s->csv) || (c && side_profile(c, s) < 0)) {
                report_vs_side_free(s);
                return NULL;
        }
        return s;
}

static const VsItem *find(const VsItem *v, size_t n, const VsItem *key)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].name, key->name) == 0 &&
                    (!key->file || (v[i].file && strcmp(v[i].file, key->file) == 0)))
                        return &v[i];
        return NULL;
}

typedef struct Change {
        const VsItem *now, *other;
        double delta;
} Change;

static int change_desc(const void *a, const void *b)
{
        double x = fabs(((const Change *) a)->delta), y = fabs(((const Change *) b)->delta);

        return x < y ? 1 : x > y ? -1 : 0;
}

static cJSON *changes(const VsItem *a, size_t na, const VsItem *b, size_t nb)
{
        Change *v = calloc(na + nb + 1, sizeof(Change));
        cJSON *list = cJSON_CreateArray();
        size_t n = 0;

        if (!v || !list) {
                free(v);
                return list;
        }
        for (size_t i = 0; i < na; i++) {
                const VsItem *o = find(b, nb, &a[i]);
                v[n++] = (Change){ &a[i], o, a[i].core - (o ? o->core : 0) };
        }
        for (size_t i = 0; i < nb; i++)
                if (!find(a, na, &b[i]))
                        v[n++] = (Change){ NULL, &b[i], -b[i].core };
        qsort_safe(v, n, sizeof(Change), change_desc);
        for (size_t i = 0; i < n && i < TOP_CHANGES; i++) {
                const VsItem *x = v[i].now ? v[i].now : v[i].other;
                cJSON *o;
                if (!(fabs(v[i].delta) > 0.005))
                        break;
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", x->name);
                if (x->file) {
                        cJSON_AddStringToObject(o, "file", x->file);
                        json_add_number(o, "line", x->line > 0 ? x->line : NAN);
                }
                json_add_number(o, "core_percent", v[i].now ? round_to(v[i].now->core, 3) : NAN);
                json_add_number(o, "other_core_percent", v[i].other ? round_to(v[i].other->core, 3) : NAN);
                cJSON_AddNumberToObject(o, "change", round_to(v[i].delta, 3));
                if (!x->file) {
                        json_add_number(o, "idle_percent", v[i].now ? round_to(v[i].now->idle, 2) : NAN);
                        json_add_number(o, "other_idle_percent",
                                        v[i].other ? round_to(v[i].other->idle, 2) : NAN);
                }
                cJSON_AddItemToArray(list, o);
        }
        free(v);
        return list;
}

/* Threads whose wake-ups a second changed most, both sides measured (one side's thread missing: 0 there). */
static cJSON *wakeup_changes(const VsItem *a, size_t na, const VsItem *b, size_t nb)
{
        Change *v = calloc(na + nb + 1, sizeof(Change));
        cJSON *list = cJSON_CreateArray();
        size_t n = 0;

        if (!v || !list) {
                free(v);
                return list;
        }
        for (size_t i = 0; i < na; i++) {
                const VsItem *o = find(b, nb, &a[i]);
                if (isfinite(a[i].wakeups) && (!o || isfinite(o->wakeups)))
                        v[n++] = (Change){ &a[i], o, a[i].wakeups - (o ? o->wakeups : 0) };
        }
        for (size_t i = 0; i < nb; i++)
                if (isfinite(b[i].wakeups) && !find(a, na, &b[i]))
                        v[n++] = (Change){ NULL, &b[i], -b[i].wakeups };
        qsort_safe(v, n, sizeof(Change), change_desc);
        for (size_t i = 0; i < n && i < TOP_CHANGES; i++) {
                const VsItem *x = v[i].now ? v[i].now : v[i].other;
                cJSON *o;
                if (!(fabs(v[i].delta) >= 1))
                        break;
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", x->name);
                json_add_number(o, "wakeups_per_second", v[i].now ? round_to(v[i].now->wakeups, 1) : NAN);
                json_add_number(o, "other_wakeups_per_second",
                                v[i].other ? round_to(v[i].other->wakeups, 1) : NAN);
                cJSON_AddNumberToObject(o, "change", round_to(v[i].delta, 1));
                cJSON_AddItemToArray(list, o);
        }
        free(v);
        return list;
}

static double path_num(const cJSON *o, const char *a, const char *b)
{
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

        if (b)
                x = cJSON_GetObjectItemCaseSensitive(x, b);
        return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static cJSON *csv_pair(const cJSON *now, const cJSON *other)
{
        static const struct {
                const char *key, *a, *b;
        } rows[] = {
                { "cpu_mean", "cpu_percent", "mean" },
                { "cpu_p95", "cpu_percent", "p95" },
                { "cpu_max", "cpu_percent", "max" },
                { "memory_start_mb", "memory", "start_mb" },
                { "memory_end_mb", "memory", "end_mb" },
                { "memory_trend_mb_per_hour", "memory", "trend_mb_per_hour" },
                { "profiler_cpu_mean", "profiler_cpu_percent", "mean" },
                { "wakeups_mean", "wakeups_per_second", "mean" },
        };
        cJSON *o = cJSON_CreateArray();

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                double a = path_num(now, rows[i].a, rows[i].b), b = path_num(other, rows[i].a, rows[i].b);
                cJSON *x;
                if (!isfinite(a) && !isfinite(b))
                        continue;
                x = cJSON_CreateObject();
                cJSON_AddStringToObject(x, "figure", rows[i].key);
                json_add_number(x, "this", a);
                json_add_number(x, "other", b);
                json_add_number(x, "change", isfinite(a) && isfinite(b) ? round_to(a - b, 3) : NAN);
                cJSON_AddItemToArray(o, x);
        }
        return o;
}

cJSON *report_vs(const VsSide *now, const VsSide *other)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "other", other->label);
        cJSON_AddItemToObject(o, "threads",
                              changes(now->threads, now->n_threads, other->threads, other->n_threads));
        cJSON_AddItemToObject(o, "functions",
                              changes(now->funcs, now->n_funcs, other->funcs, other->n_funcs));
        cJSON_AddItemToObject(
                o, "thread_wakeups",
                wakeup_changes(now->threads, now->n_threads, other->threads, other->n_threads));
        cJSON_AddItemToObject(o, "csv", csv_pair(now->csv, other->csv));
        return o;
}
