/* SPDX-License-Identifier: MIT */
#pragma once

#include "cleanup.h" /* _printf_ */

/* Inside the recorder: its state (recorder.c) and a capture, the session part that writes one
 * (capture.c). */

#include "aggregator.h"
#include "recorder.h"
#include "sample.h"
#include "sampler.h"
#include "stats.h"

#define CAPTURES_MAX 4
#define GAPS_MAX 32
#define FLUSH_MARGIN (2 * USEC_PER_SEC) /* Austin's buffered lines reach the aggregator within this */
#define FOCUS_BEFORE (5 * USEC_PER_SEC) /* the busiest thread is looked for from this before the trigger */

typedef struct RingRow {
        usec_t t;
        SampleRow row;
        ThreadSample *threads;
        size_t n_threads, cap_threads;
} RingRow;

/* A stretch in which Austin did not run while PAM did. */
typedef struct Gap {
        usec_t start, end; /* end 0: still */
        char why[160];
} Gap;

typedef struct Capture {
        Recorder *rec;
        Session *session;
        TriggerFiring fired;
        usec_t t0, t1; /* the window, monotonic; t0 on a whole second */
        bool profile;  /* stacks asked for */
        int csv_fd, threads_fd, profile_fd;
        size_t rows;
        SessionStats stats;
        sd_event_source *timer;
        bool rows_done, asked, done_part;
        char profile_state[16]; /* ok, partial, lost, off */
        char profile_reason[320];
        StackRingWriteFacts facts;
        ThreadSample busiest; /* tid 0: none; cpu_core_percent its mean around the trigger */
        double coverage;
        RecorderSnapshotDone done;
        void *userdata;
        sd_event_source *reap;
} Capture;

struct Recorder {
        sd_event *event;
        RecorderOptions o;
        char *austin_path_conf;
        RecorderCallbacks cb;
        Sampler *sampler, *austin_cost, *agg_cost;
        pid_t austin_costed, agg_costed;
        sd_event_source *timer;
        RingRow *rows;
        size_t n_slots, head, n_rows;
        pid_t pam;
        TriggerState trig;
        Aggregator *agg;
        char *austin_path;
        pid_t austin;
        sd_event_source *austin_src, *restart_timer;
        usec_t austin_started;
        unsigned austin_failures;
        bool paused;
        char pause_why[160];
        Gap gaps[GAPS_MAX];
        size_t n_gaps;
        Capture *captures[CAPTURES_MAX];
        unsigned captures_total;
        char austin_problem[256];
        /* the recorder's own cost, from the last row: Austin, the aggregator (% of one core, MB) */
        double austin_cpu, agg_cpu, austin_rss, agg_rss;
};

extern const SessionPartOps capture_part_ops;

/* recorder.c, for captures */
const RingRow *recorder_row(const Recorder *r, size_t i); /* 0: the oldest */
size_t recorder_rows(const Recorder *r);
/* Thread names of the window's rows, for the profile. */
size_t recorder_names(const Recorder *r, AggName *v, size_t max);
/* How much of [t0, t1] Austin did not cover, and why (the first reason). */
usec_t recorder_gaps(const Recorder *r, usec_t t0, usec_t t1, char *why, size_t size);
void capture_row(Capture *c, const RingRow *row);
void capture_abandon(Capture *c); /* the recorder goes first */

/* recorder-austin.c: the recorder's Austin, streaming into the aggregator, restarted with a
 * back-off; the gaps it leaves are named for the captures they fall in */
void recorder_austin_start(Recorder *r);
void recorder_austin_stop(Recorder *r);
void recorder_on_agg_gone(void *userdata, const char *why);
void recorder_gap_open(Recorder *r, const char *fmt, ...) _printf_(2, 3);
void recorder_gap_close(Recorder *r);
