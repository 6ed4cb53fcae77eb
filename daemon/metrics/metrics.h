/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Figures for Prometheus, through node_exporter's textfile collector: pamprofd.prom in
 * metrics_dir, rewritten at every sample while a session runs (the manager calls
 * metrics_update()) and every metrics_interval otherwise. No socket: node_exporter reads the
 * file when it is scraped.
 *
 * The loop only forks. A short-lived child (child.h's protocol) reads PAM's and the
 * profiler's /proc files, the records' sizes and the free space, formats the text
 * (common/metrics) and replaces the file: a temporary name in the same directory that does
 * not end in .prom (the collector reads *.prom only), written, fsynced, made 0644 (the
 * prometheus user reads it), renamed over pamprofd.prom. So the collector sees the whole old
 * file or the whole new one, and a slow disk (an fsync behind a journal commit) never holds
 * the loop up. At most one child runs; a write asked for meanwhile follows it.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "time-util.h"

#define METRICS_FILE "pamprofd.prom"

typedef struct Metrics Metrics;

typedef struct MetricsOptions {
        const char *dir;        /* metrics_dir; opened at start */
        const char *output_dir; /* the default output directory, for its free bytes */
        usec_t interval;        /* metrics_interval */
        int proc_fd;            /* borrowed, for the child */
        int records_fd;         /* borrowed: the records' files are "profiles on disk" */
} MetricsOptions;

/* What the owner knows and the metrics ask for at each write. */
typedef struct MetricsState {
        pid_t pam;             /* 0: PAM absent */
        pid_t profiler;        /* the running session's profiler child; 0: none */
        bool session;          /* a session runs */
        unsigned pam_restarts; /* the watcher's count of new pids after a loss */
} MetricsState;

typedef void (*MetricsStateFunc)(void *userdata, MetricsState *ret);

/* Opens opts->dir (an error when it cannot be), removes temporary files a killed child left. */
int metrics_new(sd_event *e, const MetricsOptions *opts, MetricsStateFunc state, void *userdata,
                Metrics **ret);
Metrics *metrics_free(Metrics *m); /* accepts NULL; a running child is killed */

/* Write now (a sample was taken, a session started or ended); the interval starts again. */
void metrics_update(Metrics *m);

/* After a reload. */
void metrics_set_interval(Metrics *m, usec_t interval);

/* A session ended in state ("stopped", "failed", "interrupted"), now. */
void metrics_session_ended(Metrics *m, const char *state);
/* The flight recorder is on (its counters are written) or off (left out). */
void metrics_set_recorder(Metrics *m, bool on);
/* A recorder capture was written, fired by trigger ("cpu", "rss", "threads", "exit", "manual"). */
void metrics_capture(Metrics *m, const char *trigger);
/* Sessions found interrupted at start (the daemon died in them): counted, with no end time. */
void metrics_sessions_interrupted(Metrics *m, size_t n);
