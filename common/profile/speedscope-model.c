/* SPDX-License-Identifier: MIT */
#include "speedscope-model.h"
#include "format-util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_MAX UINT32_MAX

typedef struct WeightRun {
        double w;
        uint64_t n;
} WeightRun;

struct SsBuilder {
        uint32_t *table; /* (parent, frame) -> node, open addressing; SS_NONE: empty */
        size_t table_cap, table_used;
        bool in_profile;
        uint32_t *prev_frames, *prev_nodes; /* the previous sample's path, for its shared prefix */
        size_t prev_depth, prev_cap_f, prev_cap_n;
        WeightRun *w;
        size_t n_w, w_cap;
        uint64_t w_total;
        bool weights_seen;
        uint32_t max_frame;
        bool any_frame;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
        size_t c;
        void *q;

        if (need <= *cap)
                return 0;
        c = *cap ? *cap : 16;
        while (c < need)
                c *= 2;
        q = realloc(*p, c * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = c;
        return 0;
}

#define GROW(p, cap, need) grow((void **) &(p), &(cap), (need), sizeof(*(p)))

SsModel *ss_model_new(void)
{
        SsModel *m = calloc(1, sizeof(SsModel));

        if (!m)
                return NULL;
        m->b = calloc(1, sizeof(SsBuilder));
        if (!m->b) {
                free(m);
                return NULL;
        }
        m->seconds_known = true;
        m->count_seconds = 0.01;
        return m;
}

static void builder_free(SsBuilder *b)
{
        if (!b)
                return;
        free(b->table);
        free(b->prev_frames);
        free(b->prev_nodes);
        free(b->w);
        free(b);
}

void ss_model_free(SsModel *m)
{
        if (!m)
                return;
        builder_free(m->b);
        for (size_t i = 0; i < m->n_threads; i++) {
                free(m->threads[i].profile_name);
                free(m->threads[i].name);
                free(m->threads[i].runs);
        }
        free(m->threads);
        free(m->frames);
        free(m->funcs);
        free(m->nodes);
        free(m->exporter);
        free(m->name);
        strtab_done(&m->strings);
        free(m);
}

/* The function (name, file), interned: its index in m->funcs once finished. */
static long func_of(SsModel *m, const char *name, const char *file)
{
        size_t nn = strlen(name), nf = strlen(file), len = nn + nf + 1;
        char small[512], *key = small;
        long i;

        if (len > sizeof(small) && !(key = malloc(len)))
                return -ENOMEM;
        memcpy(key, name, nn + 1);
        memcpy(key + nn + 1, file, nf);
        i = strtab_intern(&m->strings, key, len, NULL);
        if (key != small)
                free(key);
        return i < 0 ? -ENOMEM : i;
}

int ss_model_add_frame(SsModel *m, const char *name, const char *file, long line)
{
        const char *key;
        SsFrame *f;
        long func;

        if (GROW(m->frames, m->frames_cap, m->n_frames + 1) < 0)
                return -ENOMEM;
        func = func_of(m, name ? name : "", file ? file : "");
        if (func < 0)
                return (int) func;
        key = strtab_get(&m->strings, (size_t) func);
        f = &m->frames[m->n_frames];
        f->name = key;
        f->file = key + strlen(key) + 1;
        f->line = line > 0 && line < INT32_MAX ? (int) line : 0;
        f->func = (uint32_t) func;
        m->n_frames++;
        return 0;
}

static uint32_t new_node(SsModel *m, uint32_t parent, uint32_t frame, uint32_t thread, uint32_t depth)
{
        SsNode *n;

        if (m->n_nodes >= SS_NONE - 1 || GROW(m->nodes, m->nodes_cap, m->n_nodes + 1) < 0)
                return SS_NONE;
        n = &m->nodes[m->n_nodes];
        *n = (SsNode){ .parent = parent, .frame = frame, .thread = thread, .depth = depth };
        return (uint32_t) m->n_nodes++;
}

int ss_model_begin_profile(SsModel *m)
{
        SsBuilder *b = m->b;
        SsThread *t;
        uint32_t root;

        if (!b || b->in_profile)
                return -EINVAL;
        if (GROW(m->threads, m->threads_cap, m->n_threads + 1) < 0)
                return -ENOMEM;
        root = new_node(m, SS_NONE, SS_NONE, (uint32_t) m->n_threads, 0);
        if (root == SS_NONE)
                return -ENOMEM;
        t = &m->threads[m->n_threads++];
        *t = (SsThread){ .tid = -1, .pid = -1, .unit = SS_UNIT_NONE, .root = root };
        b->in_profile = true;
        b->prev_depth = 0;
        b->n_w = 0;
        b->w_total = 0;
        b->weights_seen = false;
        return 0;
}

static SsThread *current(SsModel *m)
{
        return m->b && m->b->in_profile ? &m->threads[m->n_threads - 1] : NULL;
}

void ss_parse_thread_name(const char *s, long *ret_pid, long *ret_tid, char **ret_name)
{
        const char *q1 = strchr(s, '"'), *q2 = strrchr(s, '"'), *p = s;
        long pid = -1, tid = -1;
        char *end;

        if (strncmp(p, "pid ", 4) == 0) {
                /* pamprofd's merge names the threads of a later PAM "pid N: Thread ..." */
                pid = strtol(p + 4, &end, 10);
                if (end == p + 4 || strncmp(end, ": ", 2) != 0)
                        pid = -1;
                else
                        p = end + 2;
        }
        if (strncmp(p, "Process ", 8) == 0) {
                pid = strtol(p + 8, &end, 10);
                if (end == p + 8 || *end != ' ')
                        pid = -1;
                else
                        p = end + 1;
        }
        if (strncmp(p, "Thread ", 7) == 0 && p[7] >= '0' && p[7] <= '9' && strncmp(p + 7, "0x", 2) != 0) {
                tid = strtol(p + 7, &end, 10);
                if (end == p + 7 || (*end != ' ' && *end != '\0'))
                        tid = -1;
        }
        *ret_pid = pid;
        *ret_tid = tid;
        if (q1 && q2 > q1)
                *ret_name = strndup(q1 + 1, (size_t) (q2 - q1 - 1));
        else
                *ret_name = strdup(s);
}

int ss_model_set_name(SsModel *m, const char *name)
{
        SsThread *t = current(m);

        if (!t)
                return -EINVAL;
        free(t->profile_name);
        free(t->name);
        t->name = NULL;
        t->profile_name = strdup(name);
        if (!t->profile_name)
                return -ENOMEM;
        ss_parse_thread_name(name, &t->pid, &t->tid, &t->name);
        return t->name ? 0 : -ENOMEM;
}

int ss_model_set_unit(SsModel *m, const char *unit)
{
        static const char *const names[] = {
                [SS_UNIT_NONE] = "none",
                [SS_UNIT_SECONDS] = "seconds",
                [SS_UNIT_MILLISECONDS] = "milliseconds",
                [SS_UNIT_MICROSECONDS] = "microseconds",
                [SS_UNIT_NANOSECONDS] = "nanoseconds",
                [SS_UNIT_BYTES] = "bytes",
        };
        SsThread *t = current(m);

        if (!t)
                return -EINVAL;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(unit, names[i]) == 0) {
                        t->unit = (SsUnit) i;
                        return 0;
                }
        return -EINVAL;
}

void ss_model_set_type(SsModel *m, bool evented)
{
        SsThread *t = current(m);

        if (t)
                t->evented = evented;
}

void ss_model_set_range(SsModel *m, double start_value, double end_value)
{
        SsThread *t = current(m);

        if (!t)
                return;
        t->start_value = start_value;
        t->end_value = end_value;
}

static inline size_t hash_pair(uint32_t parent, uint32_t frame)
{
        uint64_t k = ((uint64_t) parent << 32) | frame;

        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53ULL;
        k ^= k >> 33;
        return (size_t) k;
}

static int table_grow(SsModel *m)
{
        SsBuilder *b = m->b;
        size_t cap = b->table_cap ? b->table_cap * 2 : 4096;
        uint32_t *t = malloc(cap * sizeof(uint32_t));

        if (!t)
                return -ENOMEM;
        memset(t, 0xff, cap * sizeof(uint32_t));
        for (size_t i = 0; i < b->table_cap; i++) {
                uint32_t id = b->table[i];
                size_t h;
                if (id == SS_NONE)
                        continue;
                h = hash_pair(m->nodes[id].parent, m->nodes[id].frame) & (cap - 1);
                while (t[h] != SS_NONE)
                        h = (h + 1) & (cap - 1);
                t[h] = id;
        }
        free(b->table);
        b->table = t;
        b->table_cap = cap;
        return 0;
}

/* The child of parent for frame, made when new; SS_NONE when out of memory. */
static uint32_t child(SsModel *m, uint32_t parent, uint32_t frame)
{
        SsBuilder *b = m->b;
        size_t h, mask;
        uint32_t id;

        if ((b->table_used + 1) * 2 > b->table_cap && table_grow(m) < 0)
                return SS_NONE;
        mask = b->table_cap - 1;
        for (h = hash_pair(parent, frame) & mask;; h = (h + 1) & mask) {
                id = b->table[h];
                if (id == SS_NONE)
                        break;
                if (m->nodes[id].parent == parent && m->nodes[id].frame == frame)
                        return id;
        }
        id = new_node(m, parent, frame, m->nodes[parent].thread, m->nodes[parent].depth + 1);
        if (id == SS_NONE)
                return SS_NONE;
        b->table[h] = id;
        b->table_used++;
        return id;
}

int ss_model_add_sample(SsModel *m, const uint32_t *frames, size_t depth)
{
        SsBuilder *b = m->b;
        SsThread *t = current(m);
        size_t k = 0;
        uint32_t node;

        if (!t)
                return -EINVAL;
        if (GROW(b->prev_frames, b->prev_cap_f, depth) < 0 || GROW(b->prev_nodes, b->prev_cap_n, depth) < 0)
                return -ENOMEM;
        /* Consecutive samples of a thread mostly share a long prefix: walk the tree only below it. */
        while (k < depth && k < b->prev_depth && b->prev_frames[k] == frames[k])
                k++;
        node = k ? b->prev_nodes[k - 1] : t->root;
        for (size_t i = k; i < depth; i++) {
                node = child(m, node, frames[i]);
                if (node == SS_NONE)
                        return -ENOMEM;
                b->prev_frames[i] = frames[i];
                b->prev_nodes[i] = node;
                if (!b->any_frame || frames[i] > b->max_frame)
                        b->max_frame = frames[i];
                b->any_frame = true;
        }
        b->prev_depth = depth;
        if (t->n_runs > 0 && t->runs[t->n_runs - 1].node == node && t->runs[t->n_runs - 1].n < RUN_MAX)
                t->runs[t->n_runs - 1].n++;
        else {
                if (GROW(t->runs, t->runs_cap, t->n_runs + 1) < 0)
                        return -ENOMEM;
                t->runs[t->n_runs++] = (SsRun){ .node = node, .n = 1, .t = 0 };
        }
        t->n_samples++;
        m->n_samples++;
        return 0;
}

int ss_model_add_weights(SsModel *m, double w, uint64_t n)
{
        SsBuilder *b = m->b;

        if (!current(m))
                return -EINVAL;
        b->weights_seen = true;
        if (n == 0)
                return 0;
        if (b->n_w > 0 && b->w[b->n_w - 1].w == w)
                b->w[b->n_w - 1].n += n;
        else {
                if (GROW(b->w, b->w_cap, b->n_w + 1) < 0)
                        return -ENOMEM;
                b->w[b->n_w++] = (WeightRun){ .w = w, .n = n };
        }
        b->w_total += n;
        return 0;
}

int ss_model_add_timed(SsModel *m, const uint32_t *frames, size_t depth, double w)
{
        int r = ss_model_add_sample(m, frames, depth);

        return r < 0 ? r : ss_model_add_weights(m, w, 1);
}

static double unit_seconds(SsModel *m, SsUnit u)
{
        switch (u) {
        case SS_UNIT_SECONDS:
                return 1;
        case SS_UNIT_MILLISECONDS:
                return 1e-3;
        case SS_UNIT_MICROSECONDS:
                return 1e-6;
        case SS_UNIT_NANOSECONDS:
                return 1e-9;
        default:
                m->seconds_known = false;
                return -1; /* a count: each sample is count_seconds */
        }
}

int ss_model_end_profile(SsModel *m, char **ret_error)
{
        SsBuilder *b = m->b;
        SsThread *t = current(m);
        double factor, clock = 0;
        size_t wi = 0;
        uint64_t left;

        if (!t)
                return -EINVAL;
        b->in_profile = false;
        if (!t->profile_name) {
                t->profile_name = strdup("(unnamed)");
                t->name = strdup("(unnamed)");
                if (!t->profile_name || !t->name)
                        return -ENOMEM;
        }
        if (b->weights_seen && b->w_total != t->n_samples)
                return error_set(ret_error, -EBADMSG, "profile \"%s\" has %llu samples but %llu weights",
                                 t->profile_name, (unsigned long long) t->n_samples,
                                 (unsigned long long) b->w_total);
        factor = unit_seconds(m, t->unit);
        left = b->n_w ? b->w[0].n : 0;
        for (size_t i = 0; i < t->n_runs; i++) {
                SsRun *r = &t->runs[i];
                SsNode *n = &m->nodes[r->node];
                double sum = 0;
                uint64_t need = r->n;

                r->t = clock;
                if (!b->weights_seen)
                        sum = (double) r->n; /* no weights: each sample weighs 1 */
                while (b->weights_seen && need > 0) {
                        uint64_t take = need < left ? need : left;
                        double w = b->w[wi].w;
                        sum += (double) take * (isfinite(w) && w > 0 ? w : 0);
                        need -= take;
                        left -= take;
                        if (left == 0 && ++wi < b->n_w)
                                left = b->w[wi].n;
                }
                sum *= factor > 0 ? factor : m->count_seconds;
                n->self_n += r->n;
                n->self_s += sum;
                clock += sum;
        }
        t->seconds = clock;
        b->n_w = 0;
        return 0;
}

/* The functions, from the table they were interned in as the frames came. */
static int build_functions(SsModel *m)
{
        m->n_funcs = m->strings.n;
        m->funcs = malloc((m->n_funcs ? m->n_funcs : 1) * sizeof(SsFunc));
        if (!m->funcs)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_funcs; i++) {
                const char *key = strtab_get(&m->strings, i);
                m->funcs[i] = (SsFunc){ .name = key, .file = key + strlen(key) + 1 };
        }
        return 0;
}

int ss_model_finish(SsModel *m, char **ret_error)
{
        SsBuilder *b = m->b;
        int r;

        if (!b)
                return -EINVAL;
        if (b->in_profile)
                return error_set(ret_error, -EBADMSG, "the last profile is not complete");
        if (b->any_frame && b->max_frame >= m->n_frames)
                return error_set(ret_error, -EBADMSG,
                                 "a sample refers to frame %u, but shared.frames has %zu", b->max_frame,
                                 m->n_frames);
        r = build_functions(m);
        if (r < 0)
                return r;
        builder_free(b);
        m->b = NULL;
        return 0;
}

double ss_run_seconds(const SsThread *t, size_t i)
{
        double end = i + 1 < t->n_runs ? t->runs[i + 1].t : t->seconds;

        return end - t->runs[i].t;
}
