/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The report's inputs besides the profile: a session's _cpu.csv (by column
 * name; the seed's five columns are enough), its _threads.csv reduced to
 * one line per thread, and the facts of its _session.json. The CSVs are
 * read by csv-reader.h, as the plot and recovery read them: a row that
 * cannot be trusted is skipped and counted; an empty cell is a figure not
 * measured (NAN).
 */

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ReportSeries {
        size_t n, cap;
        double *t;    /* elapsed_seconds, non-decreasing */
        float *cpu;   /* cpu_percent: share of the machine; NAN: not measured */
        float *core;  /* cpu_core_percent (100 = one core); NAN when absent */
        float *mem;   /* memory_mb */
        float *prof;  /* profiler_cpu_percent; NAN when absent or empty */
        float *wake;  /* wakeups_per_second, the process's threads summed; NAN when absent or empty */
        int32_t *pid; /* 0 when absent */
        bool has_core, has_prof, has_pid, has_wake;
        double first_unix; /* the first row's timestamp, seconds since the epoch; NAN */
        char first_timestamp[48];
        size_t skipped;
} ReportSeries;

/* 0; -EBADMSG (not a CPU CSV: no elapsed_seconds/cpu_percent/memory_mb header); -ENOMEM; -EIO. */
int report_series_read(FILE *f, ReportSeries *ret, char **ret_error);
void report_series_done(ReportSeries *s);

typedef struct ThreadCpu {
        long tid;
        char name[32];   /* the thread's comm, as the CSV has it */
        double sum, max; /* of cpu_core_percent */
        size_t n;
        double wake_sum, wake_max; /* of wakeups_per_second, over the wake_n rows that have it */
        size_t wake_n;
} ThreadCpu;

/*
 * The rows with elapsed_seconds in [t0, t1] (NAN: no bound), reduced per
 * tid. 0; -EBADMSG (not a threads CSV); -ENOMEM; -EIO.
 */
int report_threads_read(FILE *f, double t0, double t1, ThreadCpu **ret, size_t *ret_n, char **ret_error);

#define REPORT_PIDS_MAX 32

typedef struct ReportSession {
        char id[128], scenario[72];
        double started_at_unix;       /* NAN when unknown */
        double duration;              /* seconds; NAN */
        double interval;              /* the CSV's sampling interval; NAN */
        double rate;                  /* py-spy's rate, Hz; NAN */
        double profile_start_unix;    /* when the (first) py-spy run started; NAN */
        double profile_start_elapsed; /* the same in the session's elapsed seconds (monotonic); NAN */
        size_t profile_runs;          /* py-spy runs (chunks, restarts) it lists */
        double garbage_samples;       /* the converter left them out (a garbage thread id); NAN: not said */
        /* The first run of each PAM pid, in elapsed seconds: a merged profile's "pid N: ..." threads start there. */
        long run_pid[REPORT_PIDS_MAX];
        double run_pid_elapsed[REPORT_PIDS_MAX];
        size_t n_run_pids;
        bool one_clock;    /* the merge put every thread on the first run's clock (profile-merge.h) */
        int idle;          /* py-spy ran with --idle: 1, without: 0, unknown: -1 */
        char profiler[16]; /* the sampler that ran: "py-spy", "austin"; "" when unknown */
        /* A flight recorder's capture ("capture": {...}): what fired, when, and the thread
         * busiest around it; trigger "" when the session is not a capture. */
        char trigger[16], trigger_message[160], busiest_name[17];
        double fired_elapsed;   /* NAN */
        long busiest_tid;       /* 0: not named */
        double busiest_percent; /* of a core; NAN */
        bool found;
} ReportSession;

/* A ReportSession that knows nothing yet: every figure NAN, idle unknown. */
#define REPORT_SESSION_UNKNOWN                          \
        ((ReportSession){ .started_at_unix = NAN,       \
                          .duration = NAN,              \
                          .interval = NAN,              \
                          .rate = NAN,                  \
                          .profile_start_unix = NAN,    \
                          .profile_start_elapsed = NAN, \
                          .garbage_samples = NAN,       \
                          .fired_elapsed = NAN,         \
                          .busiest_percent = NAN,       \
                          .idle = -1 })

/*
 * The facts of a _session.json the report uses. The py-spy runs are taken
 * from "profile": {"runs": [{"started_at_unix": S, "started_elapsed_seconds":
 * E, "target_pid": P, "rate": R, "idle": B}, ...]} ("chunks" is read as
 * "runs"), and --idle from "profile": {"idle": B} or py-spy's "command"
 * line; a field that is absent or of the wrong type stays unknown. 0; -EBADMSG (not JSON); -EFBIG (over 16 MiB); -errno.
 */
int report_session_read(FILE *f, ReportSession *ret, char **ret_error);

/* "2026-11-27T20:44:49.984+00:00" -> seconds since the epoch; NAN when it is not that shape. */
double report_parse_iso8601(const char *s);
