/* SPDX-License-Identifier: MIT */
#pragma once

/* Inside the session: the parts it runs and the helpers they share. Not for the rest of the daemon. */

#include "child.h"
#include "convert-child.h"
#include "merge-child.h"
#include "pidwatch.h"
#include "profile-merge.h"
#include "profiler-restart.h"
#include "profiler-threads.h"
#include "profiler.h"
#include "render.h"
#include "session.h"

extern const SessionPartOps monitor_part_ops;
extern const SessionPartOps profiler_part_ops;

pid_t profiler_child_pid(const void *state);

/* Which parts a session with these options runs, in start order. */
size_t session_parts_for(const SessionOptions *o, const SessionPartOps **ret, size_t max);

/* Name a file of the session without creating it (the part creates it later, or the renderer). */
void session_set_file(Session *s, const char *key, const char *suffix);

/* _session.json in the output dir and the daemon's own record, both atomically. */
int session_write_record(Session *s);

/*
 * The stop's steps after the parts: the plot, then the report, each in a child (child.h). Each
 * starts and returns the running step, or NULL when there is nothing to do or it cannot start
 * (the reason is logged): the caller goes on at once. A running step calls session_rendered() or
 * session_reported() from the loop once it is done; session.c goes on from there.
 */
Render *session_render(Session *s); /* _cpu.png from the CSV */
void session_rendered(Session *s);
typedef struct SessionReport SessionReport;
SessionReport *session_report(Session *s); /* _report.txt and _report.json (pamprofctl report's) */
SessionReport *session_report_free(SessionReport *r);
void session_reported(Session *s, cJSON *memory); /* takes memory: the report's verdict, or NULL */

/* Then, when the env says so, the profile as folded stacks into the upload spool (session-spool.c);
 * session_spooled() once done. */
typedef struct SessionSpool SessionSpool;
SessionSpool *session_spool(Session *s);
SessionSpool *session_spool_free(SessionSpool *sp);
void session_spooled(Session *s);

void session_discard_files(Session *s);

/* Seconds since the start, or the session's whole length once it ended. */
double session_elapsed(const Session *s);

/*
 * The profiler part (part-profiler.c: the part's face; profiler-run.c: one run of the sampler;
 * profiler-output.c: its output; profiler-publish.c: each run's conversion and, at stop, the merge
 * into the session's file).
 */

/* Each run's merge input is an open file at stop: well under the 1024 descriptors of a service. */
#define RUNS_MAX 512
#define RUNS_DESCRIBED_FIRST 4 /* the runs a record lists: the first ones and */
#define RUNS_DESCRIBED_LAST 12 /* the last ones */
#define TAIL_LINES 12

typedef enum RunOutcome {
        RUN_RUNNING,
        RUN_OK,      /* a complete file */
        RUN_PARTIAL, /* a file cut short, used up to where it is whole */
        RUN_FAILED,  /* exited early without a usable file */
        RUN_LOST,    /* killed after the grace period: no file */
        RUN_GONE,    /* its target exited as it started: nothing to profile, nothing lost */
} RunOutcome;

typedef struct Profiler Profiler;

typedef struct Run {
        Profiler *owner;
        pid_t target;
        PidProbe probe;   /* does target still run? asked when the sampler ends */
        bool probe_taken; /* the target was known to run when the sampler started */
        pid_t child;
        usec_t started_real, ended_real;
        usec_t started_mono, ended_mono;
        bool early;       /* it ended by itself while its target ran */
        bool final;       /* its judge says another run would fail the same way */
        bool no_target;   /* its judge says it found no target to read */
        char raw[96];     /* the sampler's output in the staging directory */
        char staged[96];  /* the run's speedscope file there (raw, or what raw converts to) */
        char names[96];   /* thread names recorded for it, when the backend wants them */
        char outname[96]; /* its stdout and stderr, next to it */
        RunOutcome outcome;
        bool stop_sent, killed;
        int exit_code; /* or -signal */
        char reason[320];
        size_t size;
        ConvertChild *conv_child; /* its conversion, while one runs */
        bool converted;
        ProfileConvertResult conv;
} Run;

struct Profiler {
        Session *session;
        const ProfilerBackend *backend;
        char *path;
        char version[64];
        char *command; /* the last command line, for the record */
        Run runs[RUNS_MAX];
        size_t n_runs;
        Run *current;
        pid_t next_target; /* start on this pid once the current run has ended */
        bool stopping, rotating;
        bool capped;   /* max_profile_mb reached: no more runs */
        bool runs_max; /* RUNS_MAX reached: no more runs */
        /* Samplers that end by themselves while PAM runs (profiler-restart.h) */
        RestartState restart;
        sd_event_source *restart_timer;
        pid_t restart_target;
        bool restarting;             /* the run being started is a restart: its event says so already */
        unsigned early_exits;        /* usable runs that ended by themselves */
        unsigned failed_runs;        /* runs that left nothing usable */
        unsigned gave_up_after;      /* no more restarts after this many failures in a row; 0: none */
        usec_t absent_since, absent; /* PAM not running: since when, and in all before */
        usec_t stop_mono;            /* when the session told it to stop: what it covers ends there */
        size_t converting;           /* conversion children running */
        sd_event_source *child_source, *output_source, *kill_timer, *chunk_timer, *names_timer, *stop_timer;
        ThreadRecorder *names;
        int output_fd;
        char linebuf[1024];
        size_t linelen;
        char tail[TAIL_LINES][256];
        size_t n_tail;
        MergeChild *merge; /* the merge at stop, while it runs */
        Child *remove;     /* then the removal of the runs' files */
        bool publishing;
        size_t good;     /* runs with a usable file, at stop */
        char result[64]; /* "ok", "missing", "lost" … for the record */
        char result_reason[400];
        char file[256]; /* the final file's name, when there is one */
        MergeFacts facts;
        cJSON *threads;
};

/* profiler-run.c */
void profiler_run_start(Profiler *p, pid_t target);
/* Ask the running sampler to finish its file and exit; SIGKILL after its grace. */
void profiler_run_stop(Profiler *p);
bool run_usable(const Run *r);
/* What the runs hold when the part is freed: the sampler still gets to finish its file. */
void profiler_runs_free(Profiler *p);

/* profiler-output.c: the running sampler's output file (p->output_fd), followed into the log */
void profiler_output_follow(Profiler *p, const char *path);
void profiler_output_close(Profiler *p); /* read to its end first */
const char *profiler_output_last_line(const Profiler *p);

/* profiler-publish.c */
/* A backend with a converter: the run's output to speedscope, in a child, as soon as it ends. */
void profiler_convert(Profiler *p, Run *run);
/* Stopping, no run left and none converting: time to publish. */
bool profiler_finished(const Profiler *p);
/* Merges (or copies) the usable runs into the output directory, in a child; the part is stopped
 * once that is done. */
void profiler_finish(Profiler *p);
void profiler_publish_free(Profiler *p);
