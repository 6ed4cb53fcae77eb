/* SPDX-License-Identifier: MIT */
#include "strtab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64 * 1024)
#define ENTRIES_MAX (1UL << 31)

/* Keys' bytes, in blocks that never move. */
struct StrTabBlock {
        struct StrTabBlock *next;
        size_t used, size;
        char data[];
};

void strtab_init(StrTab *t)
{
        memset(t, 0, sizeof(*t));
}

void strtab_done(StrTab *t)
{
        while (t->blocks) {
                struct StrTabBlock *next = t->blocks->next;

                free(t->blocks);
                t->blocks = next;
        }
        free(t->v);
        free(t->slots);
        memset(t, 0, sizeof(*t));
}

/* Murmur3's finaliser: every bit of x moves every bit of the result. */
static inline uint64_t mix(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        return x ^ (x >> 33);
}

uint64_t strtab_hash(const void *s, size_t n)
{
        const unsigned char *p = s;
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

        /* Eight bytes a step: frames are long, and FNV's byte a step was a fifth of a conversion. */
        for (; n >= 8; p += 8, n -= 8) {
                memcpy(&w, p, 8);
                h = (h ^ w) * 0x100000001b3ULL;
                h ^= h >> 29;
        }
        w = 0;
        memcpy(&w, p, n);
        return mix(h ^ w);
}

/* A slot from the low bits of the key's hash (mixed: they are as good as any). */
static inline size_t slot_of(uint32_t hash, size_t n_slots)
{
        return (size_t) hash & (n_slots - 1);
}

static int rehash(StrTab *t)
{
        size_t n = t->n_slots ? t->n_slots * 2 : 1024;
        uint32_t *s = calloc(n, sizeof(uint32_t));

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < t->n; i++) {
                size_t h = slot_of(t->v[i].hash, n);

                while (s[h])
                        h = (h + 1) & (n - 1);
                s[h] = (uint32_t) i + 1;
        }
        free(t->slots);
        t->slots = s;
        t->n_slots = n;
        return 0;
}

/* A copy of s[0..n) and a NUL, in a block. */
static const char *store(StrTab *t, const void *s, size_t n)
{
        struct StrTabBlock *b = t->blocks;
        char *p;

        if (!b || b->size - b->used < n + 1) {
                size_t size = n + 1 > BLOCK_SIZE / 4 ? n + 1 : BLOCK_SIZE;

                b = malloc(sizeof(*b) + size);
                if (!b)
                        return NULL;
                b->size = size;
                b->used = 0;
                /* A key of its own block goes behind the current one, which keeps its room. */
                if (size != BLOCK_SIZE && t->blocks) {
                        b->next = t->blocks->next;
                        t->blocks->next = b;
                } else {
                        b->next = t->blocks;
                        t->blocks = b;
                }
                t->bytes += size;
        }
        p = b->data + b->used;
        memcpy(p, s, n);
        p[n] = '\0';
        b->used += n + 1;
        return p;
}

long strtab_intern(StrTab *t, const void *s, size_t n, bool *ret_new)
{
        uint32_t hash = (uint32_t) strtab_hash(s, n);
        StrTabEntry *e;
        size_t h;

        if (n > UINT32_MAX || t->n >= ENTRIES_MAX)
                return -E2BIG;
        if ((t->n + 1) * 2 > t->n_slots && rehash(t) < 0)
                return -ENOMEM;
        for (h = slot_of(hash, t->n_slots); t->slots[h]; h = (h + 1) & (t->n_slots - 1)) {
                e = &t->v[t->slots[h] - 1];
                if (e->hash == hash && e->len == n && memcmp(e->s, s, n) == 0) {
                        if (ret_new)
                                *ret_new = false;
                        return (long) t->slots[h] - 1;
                }
        }
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 256;
                StrTabEntry *v = realloc(t->v, cap * sizeof(StrTabEntry));

                if (!v)
                        return -ENOMEM;
                t->v = v;
                t->cap = cap;
        }
        e = &t->v[t->n];
        e->s = store(t, s, n);
        if (!e->s)
                return -ENOMEM;
        e->len = (uint32_t) n;
        e->hash = hash;
        t->slots[h] = (uint32_t) ++t->n;
        if (ret_new)
                *ret_new = true;
        return (long) t->n - 1;
}
