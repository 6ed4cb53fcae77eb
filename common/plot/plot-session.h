/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the plot takes from a session's _session.json: its label, when it
 * started, how long it ran, the target's pid and the events to mark.
 * Tolerant: every field may be missing or of the wrong type.
 */

#include <stddef.h>

typedef enum PlotEventKind {
        PLOT_EVENT_OTHER,
        PLOT_EVENT_TARGET_EXIT,
        PLOT_EVENT_TARGET_RETURN,
        PLOT_EVENT_PROFILER_CHUNK,
        PLOT_EVENT_PROFILER_FAILED,
        PLOT_EVENT_PROFILER_EARLY, /* the sampler stopped by itself while PAM ran, and was restarted */
} PlotEventKind;

typedef struct PlotEvent {
        double t; /* elapsed_seconds */
        PlotEventKind kind;
        char label[32]; /* short: "PAM exited", "Austin chunk", ... */
} PlotEvent;

typedef struct PlotSession {
        char *id, *scenario, *started_at;
        double duration;   /* NAN when unknown */
        long pid;          /* 0 when unknown */
        PlotEvent *events; /* in time order; session-start/-stop and profiler-start left out */
        size_t n_events;
        char *profiler;         /* the sampler that ran, as the record names it ("Austin"); NULL: none */
        double coverage;        /* of the session by its profile, 0..1; NAN when not known */
        char *coverage_warning; /* the daemon's sentence when the coverage is too low; NULL: none */
} PlotSession;

/* The words the figure gives the profile's coverage ("Austin profile: 99 % of the session"); "" when none. */
void plot_session_coverage_text(const PlotSession *s, char *buf, size_t size);

/* 0; -EBADMSG: not JSON or not an object; -EFBIG; -errno. */
int plot_session_read(int fd, PlotSession *ret, char **ret_error);
int plot_session_parse(const char *json, size_t len, PlotSession *ret, char **ret_error);
void plot_session_done(PlotSession *s);
