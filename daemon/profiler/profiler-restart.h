/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * When to start a sampler again that ended by itself while its target still
 * ran (Austin 3.7 does so against threads that live a few milliseconds: runs
 * of 0.05 to 7 s measured; py-spy when it panics). A pure decision over the
 * restarts so far, tested with literals:
 *
 *  - after a run that left a usable file, soon (RESTART_SOON): every gap is
 *    profile lost, and such a sampler did its work until it stopped;
 *  - after a run that left nothing, a back-off: 0.5 s, doubling to 8 s, for
 *    each such run in a row; after RESTART_GIVE_UP of them, no more (a
 *    sampler refused every time will not be let in the next);
 *  - never more than RESTARTS_PER_MINUTE in any 60 s: past that, the next
 *    one waits until the oldest of them is a minute old.
 */

#include <stdbool.h>
#include <stddef.h>

#include "time-util.h"

#define RESTART_SOON (50 * USEC_PER_MSEC)
#define RESTART_BACKOFF_MIN (500 * USEC_PER_MSEC)
#define RESTART_BACKOFF_MAX (8 * USEC_PER_SEC)
#define RESTARTS_PER_MINUTE 60
#define RESTART_GIVE_UP 6

typedef struct RestartState {
        usec_t recent[RESTARTS_PER_MINUTE]; /* when the last ones happened, oldest first */
        size_t n_recent;
        unsigned failed_in_row; /* runs in a row that left nothing */
        unsigned total;         /* restarts so far */
} RestartState;

typedef enum RestartKind {
        RESTART_NONE,   /* gave up: too many failed runs in a row */
        RESTART_AFTER,  /* in delay */
        RESTART_CAPPED, /* in delay, which the per-minute cap set */
} RestartKind;

typedef struct RestartDecision {
        RestartKind kind;
        usec_t delay;
        unsigned failed_in_row; /* counting the run just ended */
} RestartDecision;

/* A run ended by itself at now, usable or not: what next. Updates the failure count in st. */
RestartDecision restart_decide(RestartState *st, usec_t now, bool usable);

/* A restart happened at now. */
void restart_note(RestartState *st, usec_t now);
