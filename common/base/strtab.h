/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one interned-string table. Each distinct byte string gets a dense
 * index, 0, 1, 2... in the order first seen, and its bytes are kept once,
 * NUL-terminated, in blocks that never move: a caller may keep pointers
 * into them for the table's life. Open addressing (linear probing) over a
 * word-at-a-time hash, at most half full. The profile formats use it for their frames (Austin's
 * frame text, the merge's name/file/line, the model's functions); a key
 * made of several strings is their bytes with a NUL between them.
 *
 * Memory: the keys' bytes plus one NUL each, in 64 KiB blocks (a key over
 * 16 KiB gets a block of its own), 16 bytes an entry and 4 bytes a slot, at
 * least two slots an entry.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct StrTabEntry {
        const char *s;
        uint32_t len;
        uint32_t hash; /* the low half of the key's hash */
} StrTabEntry;

typedef struct StrTab {
        StrTabEntry *v; /* index -> key */
        size_t n, cap;
        uint32_t *slots; /* index + 1; 0: empty */
        size_t n_slots;
        struct StrTabBlock *blocks;
        size_t bytes; /* held in blocks */
} StrTab;

void strtab_init(StrTab *t);
void strtab_done(StrTab *t);

/* The table's hash of n bytes: 64 bits, eight bytes a step, every bit mixed. Not for security:
 * the table is at most half full and a key is its caller's to bound. */
uint64_t strtab_hash(const void *s, size_t n);

/*
 * The index of the key s[0..n), added when new (*ret_new, when not NULL, says
 * which). -ENOMEM; -E2BIG for a key over 4 GiB or a table of 2^31 keys.
 */
long strtab_intern(StrTab *t, const void *s, size_t n, bool *ret_new);

/* The key of index i, NUL-terminated; its length without the NUL. */
static inline const char *strtab_get(const StrTab *t, size_t i)
{
        return t->v[i].s;
}

static inline size_t strtab_len(const StrTab *t, size_t i)
{
        return t->v[i].len;
}
