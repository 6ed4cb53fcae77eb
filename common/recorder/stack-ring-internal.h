/* SPDX-License-Identifier: MIT */
#pragma once

/* Inside the stack ring: its tables, for stack-ring.c and the writer, stack-ring-write.c. */

#include "austin-parse.h"
#include "intern.h"
#include "stack-ring.h"

#define DEPTH_MAX 512
#define OTHER_STACK UINT32_MAX

typedef struct Entry {
        long pid, tid;
        uint32_t stack; /* OTHER_STACK: the samples past a cap */
        uint32_t count;
        uint64_t weight_us;
} Entry;

typedef struct Bucket {
        uint64_t second; /* 0: empty */
        Entry *v;
        size_t n, cap;
} Bucket;

struct StackRing {
        StackRingOptions o;
        Intern frames, stacks;
        Bucket *buckets;
        AustinMeta meta;
        StackRingStats st;
        uint32_t ids[DEPTH_MAX];
        char *line; /* stack_ring_feed's partial line (STACK_RING_LINE_MAX), allocated on first use */
        size_t line_len;
        bool skipping; /* dropping an overlong line up to its newline */
};
