/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Byte strings interned with reference counts: equal keys get one id, and a
 * key whose count falls to 0 may be removed, its id reused. Open addressing
 * with linear probing and backward-shift deletion (no tombstones), so a table
 * that keeps adding and removing stays as fast as a fresh one.
 *
 * Not common/base/strtab: that table never forgets a key (its keys live in
 * blocks that never move, for the life of the table), which suits a file
 * read once; the recorder runs for months and must free the frames and stacks
 * of a second that left its window, so it needs counts and removal.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct InternEntry {
        void *key; /* NULL: a free id */
        uint32_t len, refs, hash;
        uint32_t next_free;
} InternEntry;

typedef struct Intern {
        InternEntry *v;
        uint32_t n_v, cap_v; /* ids handed out so far, and room */
        uint32_t free_head;  /* UINT32_MAX: none */
        uint32_t *slots;     /* ids; UINT32_MAX: empty */
        uint32_t n_slots;    /* a power of two, or 0 */
        uint32_t count;      /* live keys */
        size_t bytes;        /* their lengths summed */
} Intern;

void intern_init(Intern *t);
void intern_done(Intern *t);

/* The id of key (count + 1), added with count 1 when new (*ret_added). -ENOMEM, -E2BIG. */
int intern_add(Intern *t, const void *key, size_t len, uint32_t *ret_id, bool *ret_added);
/* The id of key without adding or counting it; UINT32_MAX when absent. */
uint32_t intern_find(const Intern *t, const void *key, size_t len);
/* Count - 1 (the count left); the key stays until intern_remove(). */
uint32_t intern_unref(Intern *t, uint32_t id);
/* Removes a key whose count is 0. */
void intern_remove(Intern *t, uint32_t id);
const void *intern_key(const Intern *t, uint32_t id, size_t *ret_len);

static inline size_t intern_count(const Intern *t)
{
        return t->count;
}
static inline size_t intern_bytes(const Intern *t)
{
        return t->bytes;
}
/* What it takes in memory: keys, entries, slots (allocator overhead estimated). */
size_t intern_memory(const Intern *t);
