/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * When the flight recorder saves its window: a pure state machine over the
 * sampler's rows (systemd-oomd's "decide on snapshots"), tested on literals.
 *
 *   cpu      PAM's CPU (100 = one core) at or over cpu_percent for cpu_samples
 *            rows in a row; it re-arms only once a row falls below
 *            cpu_rearm_percent (hysteresis: a load hovering at the threshold
 *            fires once, not at every crossing)
 *   rss      RSS up by more than rss_mb on the lowest of the window; the
 *            baseline starts again from the row that fired
 *   threads  the thread count up by threads_jump or more on the lowest of
 *            the window; the same
 *   exit     PAM exited
 *   manual   pamprofctl snapshot
 *
 * Every trigger but manual is held back by the cooldown (since the last
 * capture) and by max_per_hour (captures in the last hour). A held-back
 * trigger is not remembered: the condition must still hold, or come again,
 * after the hold.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

typedef enum TriggerKind {
        TRIGGER_NONE,
        TRIGGER_CPU,
        TRIGGER_RSS,
        TRIGGER_THREADS,
        TRIGGER_EXIT,
        TRIGGER_MANUAL,
        _TRIGGER_MAX,
} TriggerKind;

const char *trigger_kind_to_string(TriggerKind k);

typedef struct TriggerConfig {
        double cpu_percent;       /* % of one core; 0: off */
        unsigned cpu_samples;     /* rows in a row (>= 1) */
        double cpu_rearm_percent; /* below this the CPU trigger re-arms */
        double rss_mb;            /* 0: off */
        unsigned threads_jump;    /* 0: off */
        bool on_exit;
        usec_t window;         /* how far back the rss and threads baselines look */
        usec_t cooldown;       /* after a capture, none for this long (manual excepted) */
        unsigned max_per_hour; /* 0: no limit */
} TriggerConfig;

typedef struct TriggerRow {
        usec_t t;                /* monotonic */
        double cpu_core_percent; /* NAN: not measured */
        double rss_mb;
        unsigned threads;
} TriggerRow;

#define TRIGGER_HISTORY_MAX 4096 /* rows of the window kept for the baselines (1 s rows: over an hour) */
#define TRIGGER_HOUR_MAX 64      /* captures remembered for max_per_hour */

typedef struct TriggerPoint {
        usec_t t;
        double v;
} TriggerPoint;

/* Lowest values of the window: monotonic deques (times rising, values rising). */
typedef struct TriggerMin {
        TriggerPoint v[TRIGGER_HISTORY_MAX];
        size_t head, n;
} TriggerMin;

typedef struct TriggerState {
        unsigned cpu_run;  /* rows in a row over the threshold */
        bool cpu_disarmed; /* fired; waiting for a row under the re-arm threshold */
        TriggerMin rss, threads;
        usec_t last_capture; /* 0: none yet */
        usec_t hour[TRIGGER_HOUR_MAX];
        size_t n_hour;
        unsigned held_back; /* triggers the limits held back, all told */
} TriggerState;

/* What fired, with its figures, for the capture's record. */
typedef struct TriggerFiring {
        TriggerKind kind;
        usec_t t;
        double value;     /* CPU %, RSS MB, threads */
        double baseline;  /* rss and threads: the window's lowest; cpu: the threshold */
        double threshold; /* the configured figure */
        unsigned samples; /* cpu: rows over it */
        char words[160];  /* "CPU 97% of a core for 3 samples (threshold 80%)" */
} TriggerFiring;

void trigger_init(TriggerState *s);

/* A row of the sampler. true with *ret filled when a trigger fires (and the limits let it). */
bool trigger_feed(TriggerState *s, const TriggerConfig *c, const TriggerRow *row, TriggerFiring *ret);

/* PAM exited at t: true when an exit capture is due. Baselines start again (a new PAM). */
bool trigger_exit(TriggerState *s, const TriggerConfig *c, usec_t t, TriggerFiring *ret);

/* A manual snapshot at t: always allowed, and counted. */
void trigger_manual(TriggerState *s, usec_t t, TriggerFiring *ret);

/* Captures in the hour before t. */
unsigned trigger_captures_last_hour(const TriggerState *s, usec_t t);

/* "armed", "cpu 2/3 over 80%", "cpu disarmed until under 50%", "cooldown 42s", "hourly limit" */
void trigger_describe(const TriggerState *s, const TriggerConfig *c, usec_t t, char *buf, size_t size);
