/* SPDX-License-Identifier: MIT */
#include "intern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define KEY_MAX (16u << 20)

void intern_init(Intern *t)
{
        *t = (Intern){ .free_head = NONE };
}

void intern_done(Intern *t)
{
        for (uint32_t i = 0; i < t->n_v; i++)
                free(t->v[i].key);
        free(t->v);
        free(t->slots);
        intern_init(t);
}

/* FNV-1a: keys are short, and PAM does not choose them to collide with a secret seed in mind. */
static uint32_t hash_bytes(const void *key, size_t len)
{
        const unsigned char *p = key;
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

static uint32_t slot_of(const Intern *t, uint32_t hash)
{
        return hash & (t->n_slots - 1);
}

static int rehash(Intern *t, uint32_t n_slots)
{
        uint32_t *slots = malloc((size_t) n_slots * sizeof(uint32_t));

        if (!slots)
                return -ENOMEM;
        memset(slots, 0xff, (size_t) n_slots * sizeof(uint32_t));
        free(t->slots);
        t->slots = slots;
        t->n_slots = n_slots;
        for (uint32_t id = 0; id < t->n_v; id++) {
                uint32_t s;
                if (!t->v[id].key)
                        continue;
                for (s = slot_of(t, t->v[id].hash); t->slots[s] != NONE; s = (s + 1) & (n_slots - 1))
                        ;
                t->slots[s] = id;
        }
        return 0;
}

static uint32_t lookup(const Intern *t, const void *key, size_t len, uint32_t hash)
{
        if (t->n_slots == 0)
                return NONE;
        for (uint32_t s = slot_of(t, hash); t->slots[s] != NONE; s = (s + 1) & (t->n_slots - 1)) {
                const InternEntry *e = &t->v[t->slots[s]];
                if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
                        return t->slots[s];
        }
        return NONE;
}

static int new_id(Intern *t, uint32_t *ret)
{
        if (t->free_head != NONE) {
                *ret = t->free_head;
                t->free_head = t->v[*ret].next_free;
                return 0;
        }
        if (t->n_v == t->cap_v) {
                uint32_t cap = t->cap_v ? t->cap_v * 2 : 64;
                InternEntry *v;
                if (cap > (1u << 30))
                        return -E2BIG;
                v = reallocarray(t->v, cap, sizeof(InternEntry));
                if (!v)
                        return -ENOMEM;
                t->v = v;
                t->cap_v = cap;
        }
        *ret = t->n_v++;
        return 0;
}

int intern_add(Intern *t, const void *key, size_t len, uint32_t *ret_id, bool *ret_added)
{
        uint32_t hash, id, s;
        void *copy;
        int r;

        if (len > KEY_MAX)
                return -E2BIG;
        hash = hash_bytes(key, len);
        id = lookup(t, key, len, hash);
        if (id != NONE) {
                t->v[id].refs++;
                *ret_id = id;
                *ret_added = false;
                return 0;
        }
        if ((t->count + 1) * 2 > t->n_slots) {
                r = rehash(t, t->n_slots ? t->n_slots * 2 : 64);
                if (r < 0)
                        return r;
        }
        copy = malloc(len ? len : 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, key, len);
        r = new_id(t, &id);
        if (r < 0) {
                free(copy);
                return r;
        }
        t->v[id] = (InternEntry){ .key = copy, .len = (uint32_t) len, .refs = 1, .hash = hash };
        for (s = slot_of(t, hash); t->slots[s] != NONE; s = (s + 1) & (t->n_slots - 1))
                ;
        t->slots[s] = id;
        t->count++;
        t->bytes += len;
        *ret_id = id;
        *ret_added = true;
        return 0;
}

uint32_t intern_find(const Intern *t, const void *key, size_t len)
{
        return len > KEY_MAX ? NONE : lookup(t, key, len, hash_bytes(key, len));
}

uint32_t intern_unref(Intern *t, uint32_t id)
{
        if (id >= t->n_v || !t->v[id].key || t->v[id].refs == 0)
                return 0;
        return --t->v[id].refs;
}

void intern_remove(Intern *t, uint32_t id)
{
        uint32_t s, next, mask = t->n_slots - 1;
        InternEntry *e;

        if (id >= t->n_v || !t->v[id].key || t->v[id].refs > 0)
                return;
        e = &t->v[id];
        for (s = slot_of(t, e->hash); t->slots[s] != id; s = (s + 1) & mask)
                ;
        /* Backward shift: later entries of the probe run move up into the hole. */
        for (next = (s + 1) & mask; t->slots[next] != NONE; next = (next + 1) & mask) {
                uint32_t home = slot_of(t, t->v[t->slots[next]].hash);
                /* The entry at next may fill the hole at s when its home is not in (s, next]. */
                if (((next - home) & mask) >= ((next - s) & mask)) {
                        t->slots[s] = t->slots[next];
                        s = next;
                }
        }
        t->slots[s] = NONE;
        t->bytes -= e->len;
        t->count--;
        free(e->key);
        *e = (InternEntry){ .next_free = t->free_head };
        t->free_head = id;
}

const void *intern_key(const Intern *t, uint32_t id, size_t *ret_len)
{
        if (id >= t->n_v || !t->v[id].key) {
                *ret_len = 0;
                return NULL;
        }
        *ret_len = t->v[id].len;
        return t->v[id].key;
}

size_t intern_memory(const Intern *t)
{
        /* malloc's 16-byte granules and its 8-byte header on each key */
        return t->bytes + (size_t) t->count * 16 + (size_t) t->cap_v * sizeof(InternEntry) +
                (size_t) t->n_slots * sizeof(uint32_t);
}
