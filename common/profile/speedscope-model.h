/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A speedscope profile, aggregated as it streams in, in memory that grows
 * with the number of distinct stacks and of stack changes, not with the
 * file's size:
 *
 *  - frames and functions: the file's shared.frames (name, file, line); a
 *    function is a (name, file) pair, so every line of it counts as one;
 *  - a call tree per thread (a trie of frame indices): each distinct stack
 *    is one node, with the samples and seconds that ended there ("self");
 *  - a timeline per thread, run-length encoded: (stack node, samples, start
 *    time) for each stretch of identical consecutive samples. Time is the
 *    sum of the weights before a sample, what speedscope's "Time Order"
 *    view shows on its x axis.
 *
 * The builder (ss_model_begin_profile ... ss_model_finish) is driven by
 * speedscope-read.c; everything after ss_model_finish is read-only.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strtab.h"

#define SS_NONE UINT32_MAX

typedef enum SsUnit {
        SS_UNIT_NONE, /* weights are counts; see SsModel.seconds_known */
        SS_UNIT_SECONDS,
        SS_UNIT_MILLISECONDS,
        SS_UNIT_MICROSECONDS,
        SS_UNIT_NANOSECONDS,
        SS_UNIT_BYTES,
} SsUnit;

typedef struct SsFrame {
        const char *name;
        const char *file; /* "" when the file gives none */
        int line;         /* 0 when none */
        uint32_t func;
} SsFrame;

typedef struct SsFunc {
        const char *name;
        const char *file;
} SsFunc;

typedef struct SsNode {
        uint32_t parent; /* SS_NONE for a thread's root */
        uint32_t frame;  /* SS_NONE for a thread's root */
        uint32_t thread;
        uint32_t depth;  /* 0 for the root, 1 for a stack's first frame */
        uint32_t self_n; /* samples whose stack ends here */
        double self_s;   /* and their seconds */
} SsNode;

typedef struct SsRun {
        uint32_t node; /* the stack's last node */
        uint32_t n;    /* consecutive samples */
        double t;      /* seconds into the thread's profile when the run starts */
} SsRun;

typedef struct SsThread {
        char *profile_name; /* as in the file: Thread 1234 "MainThread" */
        char *name;         /* MainThread (the part in quotes), or the profile's name */
        long tid;           /* -1: not in the name (py-spy writes 0x... without an OS tid) */
        long pid;           /* -1 unless "Process PID Thread ..." or pamprofd's "pid PID: Thread ..." */
        bool evented;
        SsUnit unit;
        double start_value, end_value;
        uint32_t root;
        SsRun *runs;
        size_t n_runs, runs_cap;
        uint64_t n_samples;
        double seconds; /* sum of its weights, in seconds */
} SsThread;

typedef struct SsBuilder SsBuilder;

typedef struct SsModel {
        SsFrame *frames;
        size_t n_frames, frames_cap;
        SsFunc *funcs;
        size_t n_funcs;
        SsNode *nodes;
        size_t n_nodes, nodes_cap;
        SsThread *threads;
        size_t n_threads, threads_cap;
        char *exporter, *name; /* NULL when absent */
        uint64_t n_samples;
        bool seconds_known;   /* every profile's unit is a time unit */
        double count_seconds; /* seconds per sample when a unit is "none" (default 0.01) */
        uint64_t bytes;       /* read from the file */
        SsBuilder *b;         /* NULL once finished */
        StrTab strings;       /* each function's name NUL file, once: index i is funcs[i] */
} SsModel;

SsModel *ss_model_new(void);
void ss_model_free(SsModel *m);

/* ---- the builder, in the file's order ---- */
int ss_model_add_frame(SsModel *m, const char *name, const char *file, long line);
int ss_model_begin_profile(SsModel *m);
int ss_model_set_name(SsModel *m, const char *name);
int ss_model_set_unit(SsModel *m, const char *unit); /* -EINVAL for an unknown unit */
void ss_model_set_type(SsModel *m, bool evented);
void ss_model_set_range(SsModel *m, double start_value, double end_value);
/* One sample: frame indices root first (checked against the frames at ss_model_finish). */
int ss_model_add_sample(SsModel *m, const uint32_t *frames, size_t depth);
/* n consecutive weights equal to w, in the profile's unit, in sample order. */
int ss_model_add_weights(SsModel *m, double w, uint64_t n);
/* An evented profile's stack held for w (unit) from the previous event on. */
int ss_model_add_timed(SsModel *m, const uint32_t *frames, size_t depth, double w);
int ss_model_end_profile(SsModel *m, char **ret_error);
/* Checks indices, builds functions, frees the builder. 0, -EBADMSG (with a sentence) or -ENOMEM. */
int ss_model_finish(SsModel *m, char **ret_error);

/* ---- reading it ---- */
static inline const SsFrame *ss_node_frame(const SsModel *m, uint32_t node)
{
        uint32_t f = m->nodes[node].frame;
        return f == SS_NONE ? NULL : &m->frames[f];
}

static inline uint32_t ss_node_func(const SsModel *m, uint32_t node)
{
        uint32_t f = m->nodes[node].frame;
        return f == SS_NONE ? SS_NONE : m->frames[f].func;
}

/* The duration of run i of thread t, in seconds. */
double ss_run_seconds(const SsThread *t, size_t i);

/* Parses py-spy's profile name: Thread 1234 "name", Process 9 Thread 1234 "name", and the
 * "pid 9: Thread 1234 \"name\"" of pamprofd's merge of several runs. */
void ss_parse_thread_name(const char *profile_name, long *ret_pid, long *ret_tid, char **ret_name);
