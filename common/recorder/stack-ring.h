/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The flight recorder's stacks: Austin's lines aggregated per second (per
 * thread, stack -> count and time) in a ring of whole seconds, so memory is
 * bounded by the window, never by how long PAM runs (pure: no I/O but the
 * FILE the document is written to).
 *
 * Frames ("file:scope:line") and stacks (arrays of frame ids) are interned
 * with reference counts: a second that leaves the ring releases its stacks,
 * and a stack or frame no second holds is freed. Each second keeps at most
 * max_stacks distinct (thread, stack) pairs and the table at most max_bytes
 * of keys; a sample past either cap is counted in its thread's "other"
 * entry of that second, not dropped silently.
 *
 * The document for a window [t0, t1) is speedscope of the shape
 * austin-convert.c writes (one sampled profile per thread, named as py-spy
 * names them, unit seconds), on the window's clock: every thread spans the
 * whole window, each second of it exactly one second long (its samples
 * weighted by Austin's own time, scaled down when they add up to more than a
 * second; the rest of the second an empty sample), so a thread's quiet
 * seconds are empty time in speedscope's Time Order view.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "austin-names.h"

typedef struct StackRing StackRing;

typedef struct StackRingOptions {
        unsigned seconds;    /* the ring's length, whole seconds (>= 1) */
        unsigned max_stacks; /* distinct (thread, stack) entries a second; 0: 512 */
        size_t max_bytes;    /* interned frame and stack keys in all; 0: 8 MiB */
} StackRingOptions;

typedef struct StackRingStats {
        uint64_t lines, samples, bad_lines, late_samples, other_samples;
        size_t frames, stacks, entries;
        size_t memory_bytes; /* what the ring holds, its tables included (an estimate from sizes) */
        uint64_t first_second, last_second; /* seconds held (0, 0 when none) */
        uint64_t interval_us;               /* Austin's, from its header; 0 when not seen */
} StackRingStats;

int stack_ring_new(const StackRingOptions *o, StackRing **ret);
StackRing *stack_ring_free(StackRing *r);

/*
 * One line of Austin's text output (without its newline) read at second
 * `second` of the caller's clock. Metadata and empty lines are taken, a line
 * that is not Austin's is counted; a sample older than the ring is counted
 * as late. 0, or -ENOMEM.
 */
int stack_ring_feed_line(StackRing *r, uint64_t second, const char *line, size_t len);

#define STACK_RING_LINE_MAX (64 * 1024) /* a longer line is not a stack: counted bad, dropped */

/*
 * Bytes of Austin's stream, cut anywhere: whole lines go to
 * stack_ring_feed_line(), the rest waits for the next call. 0, or -ENOMEM.
 */
int stack_ring_feed(StackRing *r, uint64_t second, const char *data, size_t n);

/* The same for a sample already parsed: frames as in AustinSample. */
int stack_ring_add(StackRing *r, uint64_t second, long pid, long tid, const char *frames, size_t frames_len,
                   uint64_t weight_us);

void stack_ring_stats(const StackRing *r, StackRingStats *ret);

typedef struct StackRingWriteFacts {
        size_t profiles, frames;
        uint64_t samples;              /* samples of the window written (an entry of count n counts n) */
        uint64_t other_samples;        /* of them, in "other" entries */
        unsigned seconds_with_samples; /* seconds of the window in which any thread was sampled */
        size_t active;                 /* the profile the app opens on (activeProfileIndex) */
} StackRingWriteFacts;

/*
 * The window of seconds [first_second, first_second + n_seconds) as a
 * speedscope document (n_seconds at most the ring's length: the window's
 * start stays, its end comes earlier); names may be NULL. The document opens
 * (activeProfileIndex) on thread focus_tid, the one a capture's trigger is
 * about, not whichever thread sorts first; 0, or a thread not in the window:
 * the first. 0, or -errno from the FILE.
 */
int stack_ring_write_speedscope(const StackRing *r, uint64_t first_second, unsigned n_seconds,
                                long focus_tid, const AustinNames *names, const char *exporter, FILE *out,
                                StackRingWriteFacts *ret);
