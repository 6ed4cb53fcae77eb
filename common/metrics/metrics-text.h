/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * pamprofd's figures in Prometheus's text exposition format, for node_exporter's textfile
 * collector. Named by Prometheus's conventions: one pamprofd_ prefix, base units (seconds,
 * bytes), _total on counters, _info for build facts, HELP and TYPE for each; no PID, session
 * ID or file name as a label (they are unbounded); no timestamps (the collector skips a whole
 * file that has one).
 *
 * A figure that is not known (PAM absent, no profiler running, no session ended yet) is left
 * out, series and all, rather than written as 0: a 0 would be a value.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum MetricsOutcome {
        METRICS_OUTCOME_STOPPED,     /* stopped by the client, its duration or the daemon's limits */
        METRICS_OUTCOME_FAILED,      /* a write or a part failed */
        METRICS_OUTCOME_INTERRUPTED, /* the daemon died under it; found at the next start */
        _METRICS_OUTCOME_MAX,
} MetricsOutcome;

const char *metrics_outcome_to_string(MetricsOutcome o);

/* What fired a flight recorder capture: trigger.h's kinds, as their label values. */
typedef enum MetricsTrigger {
        METRICS_TRIGGER_CPU,
        METRICS_TRIGGER_RSS,
        METRICS_TRIGGER_THREADS,
        METRICS_TRIGGER_EXIT,
        METRICS_TRIGGER_MANUAL,
        _METRICS_TRIGGER_MAX,
} MetricsTrigger;

const char *metrics_trigger_to_string(MetricsTrigger t);

typedef struct MetricsFigures {
        const char *version; /* pamprofd_build_info{version=...} */

        bool pam_up;
        /* PAM's own figures, when pam_up and they could be read. */
        bool have_pam;
        double pam_cpu_user_seconds; /* since PAM started: counters */
        double pam_cpu_system_seconds;
        uint64_t pam_rss_bytes;
        bool have_pam_pss; /* smaps_rollup read (needs CAP_SYS_PTRACE for another user's PAM) */
        uint64_t pam_pss_bytes;
        uint64_t pam_threads;
        uint64_t pam_restarts; /* PAM seen again under a new pid, since the daemon started */

        bool session_running;
        /* The profiler child of the running session, while one runs. */
        bool have_profiler;
        double profiler_cpu_seconds;
        uint64_t profiler_rss_bytes;

        uint64_t sessions[_METRICS_OUTCOME_MAX]; /* sessions ended, since the daemon started */

        bool have_profile_bytes;
        uint64_t profile_bytes; /* the files of the sessions the daemon keeps records of */
        bool have_free_bytes;
        uint64_t free_bytes; /* for unprivileged users, on the output directory's filesystem */
        bool recorder_on;    /* the counters below are written only then */
        uint64_t captures[_METRICS_TRIGGER_MAX]; /* recorder captures written, since the daemon started */

        bool have_last_session_end;
        double last_session_end; /* unix seconds */
} MetricsFigures;

/*
 * Writes the text into buf (NUL-terminated). The number of bytes without the NUL, or -ENOBUFS
 * when it does not fit (METRICS_TEXT_MAX always does, whatever the version string).
 */
#define METRICS_TEXT_MAX 8192
int metrics_text_format(const MetricsFigures *f, char *buf, size_t size);
