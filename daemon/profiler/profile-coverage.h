/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * How much of a session its profile covers: the seconds a sampler ran and
 * left a usable file, over the session's seconds, and the sentence a person
 * reads when that is below COVERAGE_WARN ("profile covers 41 % of the
 * session (4.9 of 12.0 s): Austin stopped early 3 times and was restarted;
 * see journalctl -u pamprofd"). Pure: times and counts in, figures and words
 * out; the record, `stop`, `status`, `show` and the plot all show these.
 */

#include <stdbool.h>
#include <stddef.h>

#include "time-util.h"

#define COVERAGE_WARN 0.9

typedef struct CoverageSpan {
        usec_t start, end; /* monotonic; end 0: still running (counts to the session's end) */
} CoverageSpan;

typedef struct CoverageFacts {
        const char *sampler;    /* "Austin" */
        unsigned early_exits;   /* runs that ended by themselves while the target ran */
        unsigned failed_runs;   /* runs that left no usable file */
        double absent_seconds;  /* the target was not running */
        unsigned gave_up_after; /* not restarted after this many failed runs in a row; 0: it was */
        bool capped;            /* max_profile_mb stopped it */
        bool runs_max;          /* the session's most runs were reached */
} CoverageFacts;

typedef struct Coverage {
        double profiled_seconds, session_seconds;
        double ratio; /* 0..1; 1 for a session of no length */
} Coverage;

/*
 * The usable runs' spans, clipped to [start, end] of the session (they do
 * not overlap); end is when the session was told to stop, not when its files
 * were done.
 */
Coverage coverage_compute(const CoverageSpan *spans, size_t n, usec_t session_start, usec_t session_end);

/* The warning for c, or "" when it covers enough. */
void coverage_warning(const Coverage *c, const CoverageFacts *f, char *buf, size_t size);
