/* SPDX-License-Identifier: MIT */
/* The window of a stack ring as a speedscope document (stack-ring.h says its shape). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sort-util.h"
#include "json-write.h"
#include "stack-ring-internal.h"

#define SCHEMA "https://www.speedscope.app/file-format-schema.json"
#define NONE UINT32_MAX
#define SECOND_US 1000000u

typedef struct Thread {
        long pid, tid;
} Thread;

typedef struct Writer {
        const StackRing *r;
        uint64_t first;
        long focus;
        unsigned n;
        FILE *out;
        Thread *threads;
        size_t n_threads, cap_threads;
        uint32_t *map;   /* frame id -> index in the document; NONE: not written yet */
        uint32_t *order; /* index -> frame id (OTHER_STACK: the "other" frame) */
        uint32_t n_order;
        StackRingWriteFacts facts;
} Writer;

static const Bucket *bucket_at(const Writer *w, uint64_t s)
{
        const Bucket *b = &w->r->buckets[s % w->r->o.seconds];

        return b->second == s && s != 0 ? b : NULL;
}

static int by_thread(const void *a, const void *b)
{
        const Thread *x = a, *y = b;

        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int collect_threads(Writer *w)
{
        for (unsigned i = 0; i < w->n; i++) {
                const Bucket *b = bucket_at(w, w->first + i);
                bool any = false;

                for (size_t j = 0; b && j < b->n; j++) {
                        size_t k;
                        any = true;
                        for (k = 0; k < w->n_threads; k++)
                                if (w->threads[k].tid == b->v[j].tid && w->threads[k].pid == b->v[j].pid)
                                        break;
                        if (k < w->n_threads)
                                continue;
                        if (w->n_threads == w->cap_threads) {
                                size_t cap = w->cap_threads ? w->cap_threads * 2 : 16;
                                Thread *t = reallocarray(w->threads, cap, sizeof(Thread));
                                if (!t)
                                        return -ENOMEM;
                                w->threads = t;
                                w->cap_threads = cap;
                        }
                        w->threads[w->n_threads++] = (Thread){ b->v[j].pid, b->v[j].tid };
                }
                w->facts.seconds_with_samples += any;
        }
        if (w->n_threads > 1)
                qsort(w->threads, w->n_threads, sizeof(Thread), by_thread);
        return 0;
}

static uint64_t entry_weight(const StackRing *r, const Entry *e)
{
        uint64_t interval = r->meta.interval_us ? r->meta.interval_us : 10000;

        return e->weight_us ? e->weight_us : (uint64_t) e->count * interval;
}

/* The profile of thread w->focus, if in the window (collect_threads first); else 0. */
static size_t focus_profile(const Writer *w)
{
        for (size_t k = 0; w->focus > 0 && k < w->n_threads; k++)
                if (w->threads[k].tid == w->focus)
                        return k;
        return 0;
}

static uint32_t frame_index(Writer *w, uint32_t id)
{
        if (id == OTHER_STACK) {
                for (uint32_t i = 0; i < w->n_order; i++)
                        if (w->order[i] == OTHER_STACK)
                                return i;
        } else if (w->map[id] != NONE)
                return w->map[id];
        w->order[w->n_order] = id;
        if (id != OTHER_STACK)
                w->map[id] = w->n_order;
        return w->n_order++;
}

static void put_stack(Writer *w, uint32_t stack)
{
        const uint32_t *f;
        size_t len;

        fputc('[', w->out);
        if (stack == OTHER_STACK)
                fprintf(w->out, "%u", frame_index(w, OTHER_STACK));
        else {
                f = intern_key(&w->r->stacks, stack, &len);
                for (size_t i = 0; i < len / sizeof(uint32_t); i++)
                        fprintf(w->out, "%s%u", i ? "," : "", frame_index(w, f[i]));
        }
        fputc(']', w->out);
}

/* One pass over a thread's seconds: its samples (weights false) or their weights (true). */
static void put_thread(Writer *w, const Thread *t, bool weights)
{
        uint64_t empty = 0;
        bool first = true;

        for (unsigned i = 0; i < w->n; i++) {
                const Bucket *b = bucket_at(w, w->first + i);
                uint64_t sum = 0, used = 0;

                for (size_t j = 0; b && j < b->n; j++)
                        if (b->v[j].tid == t->tid && b->v[j].pid == t->pid)
                                sum += entry_weight(w->r, &b->v[j]);
                for (size_t j = 0; b && j < b->n; j++) {
                        const Entry *e = &b->v[j];
                        uint64_t wt;
                        if (e->tid != t->tid || e->pid != t->pid)
                                continue;
                        wt = entry_weight(w->r, e);
                        if (sum > SECOND_US) /* more than a second of samples in a second: scaled to fit */
                                wt = (uint64_t) ((double) wt * SECOND_US / (double) sum);
                        if (wt == 0)
                                wt = 1;
                        if (empty > 0) {
                                if (weights)
                                        fprintf(w->out, "%s%.6f", first ? "" : ",", (double) empty / 1e6);
                                else
                                        fputs(first ? "[]" : ",[]", w->out);
                                first = false;
                                empty = 0;
                        }
                        if (weights)
                                fprintf(w->out, "%s%.6f", first ? "" : ",", (double) wt / 1e6);
                        else {
                                if (!first)
                                        fputc(',', w->out);
                                put_stack(w, e->stack);
                                w->facts.samples += e->count;
                                if (e->stack == OTHER_STACK)
                                        w->facts.other_samples += e->count;
                        }
                        first = false;
                        used += wt;
                }
                empty += used < SECOND_US ? SECOND_US - used : 0;
        }
        if (empty > 0) {
                if (weights)
                        fprintf(w->out, "%s%.6f", first ? "" : ",", (double) empty / 1e6);
                else
                        fputs(first ? "[]" : ",[]", w->out);
        }
}

static void put_frame(Writer *w, uint32_t id)
{
        AustinFrame f;
        const char *key;
        size_t len;

        if (id == OTHER_STACK) {
                fputs("{\"name\":\"<other stacks>\",\"file\":\"\"}", w->out);
                return;
        }
        key = intern_key(&w->r->frames, id, &len);
        if (!key || austin_parse_frame(key, len, &f) < 0) {
                fputs("{\"name\":", w->out);
                json_write_string(w->out, key ? key : "", key ? len : 0);
                fputs(",\"file\":\"\"}", w->out);
                return;
        }
        fputs("{\"name\":", w->out);
        if (f.file_len == 0 && f.scope_len == 7 && memcmp(f.scope, "INVALID", 7) == 0)
                fputs("\"<invalid frame>\"", w->out);
        else if (f.file_len == 0 && f.scope_len == 2 && memcmp(f.scope, "GC", 2) == 0)
                fputs("\"<garbage collection>\"", w->out);
        else
                json_write_string(w->out, f.scope, f.scope_len);
        fputs(",\"file\":", w->out);
        json_write_string(w->out, f.file, f.file_len);
        if (f.line >= 0)
                fprintf(w->out, ",\"line\":%ld", f.line);
        fputc('}', w->out);
}

static void write_document(Writer *w, const AustinNames *names, const char *exporter)
{
        char label[256];

        fputs("{\"$schema\":\"" SCHEMA "\",\"profiles\":[", w->out);
        for (size_t i = 0; i < w->n_threads; i++) {
                austin_thread_label(names, w->threads[i].pid, 0, w->threads[i].tid, false, label,
                                    sizeof(label));
                fprintf(w->out, "%s{\"type\":\"sampled\",\"name\":", i ? "," : "");
                json_write_string(w->out, label, strlen(label));
                fprintf(w->out, ",\"unit\":\"seconds\",\"startValue\":0,\"endValue\":%u,\"samples\":[",
                        w->n);
                put_thread(w, &w->threads[i], false);
                fputs("],\"weights\":[", w->out);
                put_thread(w, &w->threads[i], true);
                fputs("]}", w->out);
        }
        fputs("],\"shared\":{\"frames\":[", w->out);
        for (uint32_t i = 0; i < w->n_order; i++) {
                if (i)
                        fputc(',', w->out);
                put_frame(w, w->order[i]);
        }
        fputs("]},", w->out);
        if (w->n_threads > 0) {
                w->facts.active = focus_profile(w);
                fprintf(w->out, "\"activeProfileIndex\":%zu,", w->facts.active);
        }
        fputs("\"exporter\":", w->out);
        if (exporter)
                json_write_string(w->out, exporter, strlen(exporter));
        else {
                snprintf(label, sizeof(label), "pamprofd flight recorder from austin %s",
                         w->r->meta.version[0] ? w->r->meta.version : "(no version line)");
                json_write_string(w->out, label, strlen(label));
        }
        fputs(",\"name\":\"flight recorder capture\"}\n", w->out);
        w->facts.profiles = w->n_threads;
        w->facts.frames = w->n_order;
}

int stack_ring_write_speedscope(const StackRing *r, uint64_t first_second, unsigned n_seconds,
                                long focus_tid, const AustinNames *names, const char *exporter, FILE *out,
                                StackRingWriteFacts *ret)
{
        Writer w = { .r = r, .first = first_second, .focus = focus_tid, .n = n_seconds, .out = out };
        int k;

        if (n_seconds > r->o.seconds)
                n_seconds = w.n = r->o.seconds;
        w.map = malloc(((size_t) r->frames.n_v + 1) * sizeof(uint32_t));
        w.order = malloc(((size_t) r->frames.n_v + 1) * sizeof(uint32_t));
        if (!w.map || !w.order) {
                k = -ENOMEM;
                goto finish;
        }
        memset(w.map, 0xff, ((size_t) r->frames.n_v + 1) * sizeof(uint32_t));
        k = collect_threads(&w);
        if (k < 0)
                goto finish;
        errno = 0;
        write_document(&w, names, exporter);
        /* a failed write leaves its errno (ENOSPC, EFBIG), as the writes after it fail the same way */
        k = ferror(out) ? (errno > 0 ? -errno : -EIO) : 0;
        if (ret)
                *ret = w.facts;
finish:
        free(w.map);
        free(w.order);
        free(w.threads);
        return k;
}
