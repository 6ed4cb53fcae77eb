/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * JSON arrays written as they grow, by a converter that cannot hold its
 * output: each array's text (without its brackets) gathers in a small
 * buffer that spills, block by block, into one scratch file all the arrays
 * share, and is copied out whole at the end. Austin's conversion keeps a
 * samples and a weights array for every thread this way, so its memory
 * grows with threads, not with samples.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The scratch file: read and written at offsets (pread/pwrite), never by its file position. */
typedef struct Spool {
        int fd;
        uint64_t end; /* written so far */
} Spool;

typedef struct SpoolBlock {
        uint64_t off;
        size_t len;
} SpoolBlock;

typedef struct SpoolArray {
        char *buf; /* the text not spilled yet */
        size_t len, cap;
        SpoolBlock *blocks; /* spilled, in order */
        size_t n_blocks, cap_blocks;
        bool any; /* an element was written: the next takes a comma */
} SpoolArray;

void spool_array_done(SpoolArray *a);
/* Room for need more bytes at a->buf + a->len; NULL when out of memory. */
char *spool_room(SpoolArray *a, size_t need);
/* a's buffer to the end of the scratch file. 0, -errno. */
int spool_spill(Spool *sp, SpoolArray *a);
/* a's whole text to out: its blocks from the scratch file, then its buffer. 0, -errno. */
int spool_copy(const Spool *sp, const SpoolArray *a, FILE *out);

/* v in decimal at dst (at most 20 bytes): their number. */
size_t spool_put_uint(char *dst, uint64_t v);
/* µs as decimal seconds, exactly, at dst (at most 28 bytes): 10074 -> "0.010074", 20000 -> "0.02". */
size_t spool_put_seconds(char *dst, uint64_t us);
/* ",s" or "s": the seconds of us, as the next element of a. 0, -ENOMEM. */
int spool_add_seconds(SpoolArray *a, uint64_t us);
