/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The profile as the findings see it: every stack's end classified as
 * working or waiting (report-classify.h), per-thread totals, the event-loop
 * threads, and each thread's measured CPU joined by tid from _threads.csv.
 *
 * Waiting that py-spy cannot name (time.sleep, a socket read in C: the
 * sample shows only the Python line that called it) is recovered from the
 * measured CPU: when a thread's stacks say it worked a share a of the time
 * but /proc says it ran only c < a, the difference was spent waiting at the
 * lines it holds longest (a sleep holds one line for a long stretch; real
 * work moves). Those lines are marked WAIT_INFERRED until what is left as
 * working matches c. Without a CPU figure nothing is inferred, and a thread
 * whose work is mostly one long-held line is marked uncertain instead.
 *
 * Two kinds of sample are neither work nor a wait, and count in no share:
 * an empty stack (the thread not yet born, or not in Python then: the
 * Austin converter's gaps, a new thread before its first frame) and a
 * stack the sampler could not read (Austin's <invalid frame> as its leaf).
 * A thread's seconds are the time it was seen with a stack.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report-classify.h"
#include "report-csv.h"
#include "speedscope-model.h"

/* c->kind beyond the WaitKinds, for the samples that are neither work nor a wait. */
#define RP_ABSENT 0xfe     /* an empty stack */
#define RP_UNREADABLE 0xfd /* a stack the sampler could not read */

typedef struct RpThread {
        double seconds;                /* seen with a readable stack: its profile's length, less the rest */
        double absent_s, unreadable_s; /* empty stacks; unreadable ones */
        uint64_t n_seen;               /* samples with a readable stack */
        uint64_t n_unreadable,
                n_partial;            /* unreadable; read only in part (an <invalid frame> above the leaf) */
        double first_t;               /* its first readable sample, seconds into its profile */
        bool garbage;                 /* its tid is no thread's (a failed read): not listed */
        double wait_s[WAIT_KIND_MAX]; /* seconds by how it waits; [WAIT_NONE] is working */
        double work_s, idle_s;
        uint32_t top_wait_frame;  /* the line it waits at most (SS_NONE) */
        bool event_loop;          /* runs an asyncio loop */
        bool main;                /* MainThread, or tid == the process's pid */
        bool has_cpu;             /* joined with a _threads.csv row set */
        double cpu_mean, cpu_max; /* cpu_core_percent over the profile's time */
        size_t cpu_rows;
        bool has_wakeups;                 /* _threads.csv's wakeups_per_second, in 3 rows or more */
        double wakeups_mean, wakeups_max; /* per second, over the profile's time */
        char comm[32];
        uint32_t inferred_frame; /* the main line marked WAIT_INFERRED (SS_NONE) */
        bool uncertain;          /* no CPU figure, and its work is mostly one long-held line */
        uint32_t uncertain_frame;
        double uncertain_s;
} RpThread;

typedef struct RpOptions {
        const char *
                sampler; /* "Austin", "py-spy": what made the profile, as the report names it; NULL: "the sampler" */
        int idle;        /* py-spy ran with --idle: 1; without: 0; unknown: -1 */
        double duration; /* the profile's length when known from elsewhere; NAN */
        double offset;   /* profile time 0 is this many seconds into the CSV's elapsed_seconds */
        /* Threads of a later PAM ("pid N: ..." in a merged profile) start when its first run did. */
        const long *run_pid;
        const double *run_pid_elapsed;
        size_t n_run_pids;
} RpOptions;

typedef struct RpContext {
        const SsModel *m;
        uint8_t *kind;         /* per node: the WaitKind of the samples that end there */
        RpThread *threads;     /* parallel to m->threads */
        double duration;       /* the profile's length in seconds */
        double interval;       /* mean seconds between samples */
        const char *sampler;   /* "Austin", "py-spy" or "the sampler" */
        bool idle_included;    /* idle stacks are in the file (py-spy --idle) */
        double offset;         /* see RpOptions */
        double *thread_offset; /* each thread's time 0 in elapsed seconds */
} RpContext;

/* cpu: the _threads.csv rows reduced over the profile's time (NULL, 0: none). 0 or -ENOMEM. */
int rp_context_build(const SsModel *m, const ThreadCpu *cpu, size_t n_cpu, const RpOptions *o,
                     RpContext *ret);
void rp_context_done(RpContext *c);

/* The WaitKind of the samples that end at node (WAIT_NONE: working), or RP_ABSENT, RP_UNREADABLE. */
static inline WaitKind rp_kind(const RpContext *c, uint32_t node)
{
        return (WaitKind) c->kind[node];
}

/* The samples that end at node wait (a WaitKind other than working). */
static inline bool rp_waits(const RpContext *c, uint32_t node)
{
        return c->kind[node] != WAIT_NONE && c->kind[node] < WAIT_KIND_MAX;
}

/* The deepest frame of the stack at node that is neither plumbing nor Python's library; else the leaf's. */
uint32_t rp_own_frame(const RpContext *c, uint32_t node);

typedef struct RpHit {
        uint32_t thread;
        uint32_t frame; /* rp_own_frame of the samples */
        double seconds;
} RpHit;

/*
 * The working samples in [t0, t1) of the session's elapsed seconds (each
 * thread's own offset applied), by (thread, frame),
 * largest first, at most max of them. Returns how many, or -ENOMEM.
 */
int rp_window_top(const RpContext *c, double t0, double t1, RpHit *ret, size_t max, double *ret_total);
