/* SPDX-License-Identifier: MIT */
#include "stack-ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "austin-parse.h"
#include "stack-ring-internal.h"
#include "time-util.h"

int stack_ring_new(const StackRingOptions *o, StackRing **ret)
{
        StackRing *r;

        if (!o || o->seconds == 0 || o->seconds > 100000)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->o = *o;
        if (!r->o.max_stacks)
                r->o.max_stacks = 512;
        if (!r->o.max_bytes)
                r->o.max_bytes = 8u << 20;
        r->buckets = calloc(o->seconds, sizeof(Bucket));
        if (!r->buckets) {
                free(r);
                return -ENOMEM;
        }
        intern_init(&r->frames);
        intern_init(&r->stacks);
        *ret = r;
        return 0;
}

static void stack_release(StackRing *r, uint32_t id)
{
        size_t len;
        const uint32_t *f;

        if (id == OTHER_STACK || intern_unref(&r->stacks, id) > 0)
                return;
        /* The last reference: the frames it held go too. */
        f = (const uint32_t *) intern_key(&r->stacks, id, &len);
        for (size_t i = 0; i < len / sizeof(uint32_t); i++)
                if (intern_unref(&r->frames, f[i]) == 0)
                        intern_remove(&r->frames, f[i]);
        intern_remove(&r->stacks, id);
}

static void bucket_clear(StackRing *r, Bucket *b)
{
        for (size_t i = 0; i < b->n; i++)
                stack_release(r, b->v[i].stack);
        b->n = 0;
        b->second = 0;
}

StackRing *stack_ring_free(StackRing *r)
{
        if (!r)
                return NULL;
        for (unsigned i = 0; i < r->o.seconds; i++) {
                bucket_clear(r, &r->buckets[i]);
                free(r->buckets[i].v);
        }
        free(r->buckets);
        intern_done(&r->frames);
        intern_done(&r->stacks);
        free(r->line);
        free(r);
        return NULL;
}

/* The bucket of second s, emptied of an older second it held; NULL when s is older than the ring. */
static Bucket *bucket_for(StackRing *r, uint64_t s)
{
        Bucket *b = &r->buckets[s % r->o.seconds];

        if (b->second == s)
                return b;
        if (b->second > s)
                return NULL;
        bucket_clear(r, b);
        b->second = s;
        return b;
}

static size_t keys_bytes(const StackRing *r)
{
        return intern_bytes(&r->frames) + intern_bytes(&r->stacks);
}

/* Interns the frames of a sample and its stack; OTHER_STACK past the byte cap. */
static int stack_intern(StackRing *r, const char *frames, size_t len, uint32_t *ret)
{
        const char *p = frames, *end = frames + len, *f;
        size_t n = 0, flen;
        uint32_t id;
        bool added;
        int k;

        while (austin_next_frame(&p, end, &f, &flen)) {
                if (n == DEPTH_MAX)
                        break; /* deeper than any real Python stack: the root part is kept */
                if (keys_bytes(r) + flen + (n + 1) * sizeof(uint32_t) > r->o.max_bytes) {
                        k = 0; /* over the cap: the sample goes to "other" */
                        goto undo;
                }
                k = intern_add(&r->frames, f, flen, &r->ids[n], &added);
                if (k < 0)
                        goto undo;
                n++;
        }
        k = intern_add(&r->stacks, r->ids, n * sizeof(uint32_t), &id, &added);
        if (k < 0)
                goto undo;
        if (!added) /* the stack holds its frames already */
                for (size_t i = 0; i < n; i++)
                        (void) intern_unref(&r->frames, r->ids[i]);
        *ret = id;
        return 0;
undo:
        for (size_t i = 0; i < n; i++)
                if (intern_unref(&r->frames, r->ids[i]) == 0)
                        intern_remove(&r->frames, r->ids[i]);
        *ret = OTHER_STACK;
        return k;
}

static Entry *entry_find(Bucket *b, long pid, long tid, uint32_t stack)
{
        for (size_t i = b->n; i > 0; i--)
                if (b->v[i - 1].stack == stack && b->v[i - 1].tid == tid && b->v[i - 1].pid == pid)
                        return &b->v[i - 1];
        return NULL;
}

static Entry *entry_new(Bucket *b, long pid, long tid, uint32_t stack)
{
        if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 16;
                Entry *v = reallocarray(b->v, cap, sizeof(Entry));
                if (!v)
                        return NULL;
                b->v = v;
                b->cap = cap;
        }
        b->v[b->n] = (Entry){ .pid = pid, .tid = tid, .stack = stack };
        return &b->v[b->n++];
}

/* The id of a stack the table holds already, without a reference; OTHER_STACK when it holds none. */
static uint32_t stack_find(StackRing *r, const char *frames, size_t len)
{
        const char *p = frames, *end = frames + len, *f;
        size_t n = 0, flen;
        uint32_t id;

        while (n < DEPTH_MAX && austin_next_frame(&p, end, &f, &flen)) {
                id = intern_find(&r->frames, f, flen);
                if (id == UINT32_MAX)
                        return OTHER_STACK;
                r->ids[n++] = id;
        }
        id = intern_find(&r->stacks, r->ids, n * sizeof(uint32_t));
        return id == UINT32_MAX ? OTHER_STACK : id;
}

int stack_ring_add(StackRing *r, uint64_t second, long pid, long tid, const char *frames, size_t frames_len,
                   uint64_t weight_us)
{
        Bucket *b = bucket_for(r, second);
        uint32_t stack = OTHER_STACK;
        bool held = false; /* a reference on stack taken here */
        Entry *e;
        int k;

        if (!b) {
                r->st.late_samples++;
                return 0;
        }
        if (b->n < r->o.max_stacks) {
                k = stack_intern(r, frames, frames_len, &stack);
                if (k < 0)
                        return k;
                held = stack != OTHER_STACK;
        } else /* at the cap: a stack this second holds for the thread still counts as itself */
                stack = stack_find(r, frames, frames_len);
        e = entry_find(b, pid, tid, stack);
        if (!e && b->n >= r->o.max_stacks && stack != OTHER_STACK) {
                stack = OTHER_STACK;
                e = entry_find(b, pid, tid, stack);
        }
        if (held && (e || stack == OTHER_STACK)) { /* the entry holds it already, or it is not kept */
                stack_release(r, stack);
                held = false;
        }
        if (!e) {
                e = entry_new(b, pid, tid, stack);
                if (!e) {
                        if (held)
                                stack_release(r, stack);
                        return -ENOMEM;
                }
        }
        e->count++;
        /* A sample stands for at most a second: no sum of Austin's (or a forged) metric overflows. */
        e->weight_us += weight_us < USEC_PER_SEC ? weight_us : USEC_PER_SEC;
        r->st.samples++;
        if (stack == OTHER_STACK)
                r->st.other_samples++;
        return 0;
}

int stack_ring_feed_line(StackRing *r, uint64_t second, const char *line, size_t len)
{
        AustinSample s;
        int k;

        r->st.lines++;
        k = austin_parse_line(line, len, &r->meta, &s);
        if (k < 0) {
                r->st.bad_lines++;
                return 0;
        }
        if (k != AUSTIN_LINE_SAMPLE)
                return 0;
        if (s.tid <= 0 || s.pid <= 0) {
                r->st.bad_lines++;
                return 0;
        }
        return stack_ring_add(r, second, s.pid, s.tid, s.frames, s.frames_len, s.time_us);
}

int stack_ring_feed(StackRing *r, uint64_t second, const char *data, size_t n)
{
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t take = nl ? (size_t) (nl - data) : n;
                int k;

                if (!r->line) {
                        r->line = malloc(STACK_RING_LINE_MAX);
                        if (!r->line)
                                return -ENOMEM;
                }
                if (!r->skipping && take > STACK_RING_LINE_MAX - r->line_len) {
                        /* longer than any stack: counted once, dropped up to its newline */
                        r->st.lines++;
                        r->st.bad_lines++;
                        r->skipping = true;
                        r->line_len = 0;
                }
                if (!r->skipping) {
                        memcpy(r->line + r->line_len, data, take);
                        r->line_len += take;
                }
                if (!nl)
                        return 0;
                if (!r->skipping) {
                        k = stack_ring_feed_line(r, second, r->line, r->line_len);
                        if (k < 0)
                                return k;
                }
                r->skipping = false;
                r->line_len = 0;
                data = nl + 1;
                n -= take + 1;
        }
        return 0;
}

void stack_ring_stats(const StackRing *r, StackRingStats *ret)
{
        StackRingStats st = r->st;
        size_t cap = 0;

        st.frames = intern_count(&r->frames);
        st.stacks = intern_count(&r->stacks);
        st.entries = 0;
        st.first_second = st.last_second = 0;
        for (unsigned i = 0; i < r->o.seconds; i++) {
                const Bucket *b = &r->buckets[i];
                st.entries += b->n;
                cap += b->cap;
                if (b->second && (!st.first_second || b->second < st.first_second))
                        st.first_second = b->second;
                if (b->second > st.last_second)
                        st.last_second = b->second;
        }
        st.memory_bytes = sizeof(*r) + r->o.seconds * sizeof(Bucket) + cap * sizeof(Entry) +
                (r->line ? STACK_RING_LINE_MAX : 0) + intern_memory(&r->frames) + intern_memory(&r->stacks);
        st.interval_us = r->meta.interval_us;
        *ret = st;
}
