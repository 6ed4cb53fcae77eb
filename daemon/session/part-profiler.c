/* SPDX-License-Identifier: MIT */
/*
 * The profiler part: runs a profiler backend (profiler.h: py-spy, Austin)
 * against PAM for the session and leaves one seed-named
 * _profile.speedscope.json behind. Everything that differs between
 * samplers — command line, stop signal and grace, how to judge a finished
 * run, how to turn its output into speedscope — comes from the backend's
 * table; this file knows none of them by name.
 *
 * A run is stopped with the backend's stop signal (SIGINT for both: py-spy
 * writes its file only then, Austin finishes its own) and a bounded wait,
 * then SIGKILL. Runs write into the daemon's private staging directory; each
 * finished run is judged by its file (py-spy exits 1 after a good file at
 * times, Austin 254 after a good one always). A backend with a converter
 * (Austin) has its run converted to speedscope in a short-lived child as
 * soon as the run ends, so the event loop never waits for a 100 MB text
 * file; at stop the good runs are merged (or copied, when there is one) into
 * the output directory with O_EXCL|O_NOFOLLOW, owned by the client, by an
 * unprivileged child that gets only those descriptors: the loop goes on
 * answering meanwhile, and PAM's strings are never parsed with the daemon's
 * rights.
 *
 * This file is the part's face to the session (start, stop, the target's
 * changes, its figures); profiler-run.c runs one sampler, profiler-publish.c
 * turns the runs into the session's file. They share session-parts.h.
 *
 * A new run starts when PAM comes back with a new pid, and every `chunk`
 * seconds, so the sampler's memory (py-spy's) and its files stay bounded and
 * a crash loses one chunk at most. Its output goes line by line to the log,
 * and the last lines into _session.json when it fails.
 *
 * The sampler's stdout and stderr go to a file in staging, not a pipe: if the
 * daemon dies, py-spy gets SIGINT and prints "Stopped sampling" before it
 * writes its profile; into a pipe with no reader that print fails (EPIPE)
 * and the profile is lost. The daemon follows the file with inotify.
 *
 * A backend whose output has thread ids only (Austin) gets the target's
 * thread names recorded from /proc while it runs (profiler-threads.h).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "profile-coverage.h"
#include "proc-stat.h"
#include "session-parts.h"

static const char *const outcome_names[] = {
        [RUN_RUNNING] = "running", [RUN_OK] = "ok",     [RUN_PARTIAL] = "partial",
        [RUN_FAILED] = "failed",   [RUN_LOST] = "lost", [RUN_GONE] = "target-gone",
};

static void profiler_stop(Session *s, void *state)
{
        Profiler *p = state;

        p->stopping = true;
        p->stop_mono = now(CLOCK_MONOTONIC);
        p->chunk_timer = sd_event_source_disable_unref(p->chunk_timer);
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        if (p->absent_since) {
                p->absent += now(CLOCK_MONOTONIC) - p->absent_since;
                p->absent_since = 0;
        }
        if (p->current)
                profiler_run_stop(p);
        else if (profiler_finished(p))
                profiler_finish(p);
}

static void profiler_target_changed(Session *s, void *state, pid_t old_pid, pid_t new_pid)
{
        Profiler *p = state;

        /* Samplers end by themselves when their target exits, and finish their file then. */
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        if (new_pid == 0 && !p->absent_since)
                p->absent_since = now(CLOCK_MONOTONIC);
        if (new_pid > 0 && p->absent_since) {
                p->absent += now(CLOCK_MONOTONIC) - p->absent_since;
                p->absent_since = 0;
        }
        if (new_pid > 0 && !p->stopping)
                profiler_run_start(p, new_pid);
}

static void profiler_free(void *state)
{
        Profiler *p = state;

        if (!p)
                return;
        profiler_runs_free(p);
        profiler_publish_free(p);
        cJSON_Delete(p->threads);
        free(p->command);
        free(p->path);
        free(p);
}

static int profiler_start(Session *s, void **ret_state)
{
        const SessionEnv *m = session_env(s);
        _cleanup_free_ char *looked = NULL;
        Profiler *p = calloc(1, sizeof(*p));
        int r;

        if (!p)
                return -ENOMEM;
        p->session = s;
        /* The manager checked the name at start; the configured path is of this backend. */
        p->backend = profiler_backend_find(session_options(s)->profiler);
        if (!p->backend)
                p->backend = profiler_backends[0];
        p->output_fd = -1;
        r = profiler_find(p->backend, m->profiler_path, m->proc_fd, session_target_pid(s), &p->path,
                          &looked);
        if (r < 0) {
                free(p);
                return r;
        }
        if (profiler_version(p->path, p->version, sizeof(p->version)) < 0)
                snprintf(p->version, sizeof(p->version), "unknown");
        if (session_target_pid(s) > 0)
                profiler_run_start(p, session_target_pid(s));
        *ret_state = p;
        return 0;
}

static void add_time(cJSON *o, const char *key, usec_t t)
{
        char buf[ISO8601_MAX];

        if (t && format_iso8601(t, buf, sizeof(buf)) >= 0)
                cJSON_AddStringToObject(o, key, buf);
        else
                cJSON_AddNullToObject(o, key);
}

/* The running sampler's mean CPU over its run, % of one core, from its /proc stat; NAN when unknown. */
static double child_cpu(const Profiler *p)
{
        const Run *r = p->current;
        ProcStat st;
        double elapsed;

        if (!r)
                return NAN;
        elapsed = (double) (now(CLOCK_MONOTONIC) - r->started_mono) / 1e6;
        if (elapsed < 0.5 || proc_stat_read(session_env(p->session)->proc_fd, r->child, &st) < 0)
                return NAN;
        return (double) (st.utime + st.stime) / (double) sysconf(_SC_CLK_TCK) / elapsed * 100;
}

static void describe_run(cJSON *runs, const Session *s, const Run *r)
{
        cJSON *j = cJSON_CreateObject();

        cJSON_AddNumberToObject(j, "target_pid", r->target);
        cJSON_AddNumberToObject(j, "pid", r->child);
        add_time(j, "started_at", r->started_real);
        cJSON_AddNumberToObject(j, "started_at_unix", (double) r->started_real / 1e6);
        cJSON_AddNumberToObject(j, "started_elapsed_seconds",
                                (double) (r->started_mono - session_start_mono(s)) / 1e6);
        add_time(j, "ended_at", r->ended_real);
        if (r->ended_mono)
                cJSON_AddNumberToObject(j, "seconds",
                                        round((double) (r->ended_mono - r->started_mono) / 1e4) / 100);
        cJSON_AddStringToObject(j, "outcome", outcome_names[r->outcome]);
        if (r->early)
                cJSON_AddTrueToObject(j, "early_exit");
        if (r->outcome != RUN_RUNNING)
                cJSON_AddNumberToObject(j, "exit", r->exit_code);
        if (r->reason[0])
                cJSON_AddStringToObject(j, "reason", r->reason);
        cJSON_AddNumberToObject(j, "size", (double) r->size);
        if (r->conv_child)
                cJSON_AddStringToObject(j, "conversion", "running");
        else if (r->converted) {
                cJSON *c = cJSON_AddObjectToObject(j, "conversion");
                cJSON_AddNumberToObject(c, "samples", (double) r->conv.samples);
                cJSON_AddNumberToObject(c, "bytes_used", (double) r->conv.bytes_used);
                cJSON_AddNumberToObject(c, "bytes", (double) r->conv.bytes);
                cJSON_AddBoolToObject(c, "cut", r->conv.cut);
                cJSON_AddNumberToObject(c, "bad_lines", (double) r->conv.bad_lines);
                cJSON_AddNumberToObject(c, "garbage_samples", (double) r->conv.garbage_samples);
        }
        cJSON_AddItemToArray(runs, j);
}

/* How much of the session the runs cover (profile-coverage.h), and the warning when too little. */
static void describe_coverage(const Profiler *p, cJSON *o)
{
        const Session *s = p->session;
        /* Up to the stop: the time the files then take to be finished is no time to profile. */
        usec_t start = session_start_mono(s),
               end = p->stop_mono ? p->stop_mono : start + (usec_t) (session_elapsed(s) * 1e6);
        usec_t absent = p->absent + (p->absent_since ? now(CLOCK_MONOTONIC) - p->absent_since : 0);
        CoverageSpan spans[RUNS_MAX];
        size_t n = 0;
        char warning[400];
        Coverage c;

        for (size_t i = 0; i < p->n_runs; i++)
                if (p->runs[i].outcome == RUN_RUNNING || run_usable(&p->runs[i]))
                        spans[n++] = (CoverageSpan){ p->runs[i].started_mono, p->runs[i].ended_mono };
        c = coverage_compute(spans, n, start, end);
        coverage_warning(&c,
                         &(CoverageFacts){
                                 .sampler = p->backend->display,
                                 .early_exits = p->early_exits,
                                 .failed_runs = p->failed_runs,
                                 .absent_seconds = (double) absent / 1e6,
                                 .gave_up_after = p->gave_up_after,
                                 .capped = p->capped,
                                 .runs_max = p->runs_max,
                         },
                         warning, sizeof(warning));
        cJSON_AddNumberToObject(o, "coverage", round(c.ratio * 1000) / 1000);
        cJSON_AddNumberToObject(o, "profiled_seconds", round(c.profiled_seconds * 100) / 100);
        cJSON_AddNumberToObject(o, "session_seconds", round(c.session_seconds * 100) / 100);
        cJSON_AddNumberToObject(o, "early_exits", p->early_exits);
        cJSON_AddNumberToObject(o, "restarts", p->restart.total);
        if (warning[0])
                cJSON_AddStringToObject(o, "coverage_warning", warning);
}

static void profiler_describe(Session *s, void *state, cJSON *into)
{
        Profiler *p = state;
        cJSON *o = cJSON_AddObjectToObject(into, "profile"), *runs, *tail;
        double cpu = child_cpu(p);

        if (!o)
                return;
        cJSON_AddStringToObject(o, "profiler", p->backend->name);
        cJSON_AddStringToObject(o, "path", p->path);
        cJSON_AddStringToObject(o, "version", p->version);
        if (p->command)
                cJSON_AddStringToObject(o, "command", p->command);
        cJSON_AddStringToObject(o, "profiler_name", p->backend->display);
        cJSON_AddStringToObject(o, "state",
                                p->result[0]                    ? p->result
                                        : p->current            ? "running"
                                        : p->merge || p->remove ? "merging"
                                        : p->restart_timer      ? "restarting"
                                                                : "waiting");
        if (p->result_reason[0])
                cJSON_AddStringToObject(o, "reason", p->result_reason);
        if (p->current)
                cJSON_AddNumberToObject(o, "pid", p->current->child);
        if (p->capped)
                cJSON_AddTrueToObject(o, "capped");
        if (isfinite(cpu))
                cJSON_AddNumberToObject(o, "cpu_core_percent_mean", round(cpu * 100) / 100);
        if (p->file[0]) {
                cJSON_AddStringToObject(o, "file", p->file);
                cJSON_AddNumberToObject(o, "samples", (double) p->facts.samples);
                cJSON_AddNumberToObject(o, "frames", (double) p->facts.frames);
                cJSON_AddNumberToObject(o, "seconds", p->facts.seconds);
                /* The names of the first threads (merge-child.c keeps 64); the file has them all. */
                cJSON_AddNumberToObject(o, "thread_count", (double) p->facts.profiles);
                /* profile-merge.h: every thread on the first run's clock, later runs at their start */
                cJSON_AddTrueToObject(o, "threads_on_one_clock");
                if (p->threads)
                        cJSON_AddItemReferenceToObject(o, "threads", p->threads);
        }
        describe_coverage(p, o);
        /* The first and the last runs: a record must fit in one reply however often the sampler was
         * restarted (RUNS_MAX); the coverage above counts them all, and the journal names each. */
        runs = cJSON_AddArrayToObject(o, "runs");
        for (size_t i = 0; runs && i < p->n_runs; i++)
                if (i < RUNS_DESCRIBED_FIRST || i + RUNS_DESCRIBED_LAST >= p->n_runs)
                        describe_run(runs, s, &p->runs[i]);
        if (p->n_runs > RUNS_DESCRIBED_FIRST + RUNS_DESCRIBED_LAST)
                cJSON_AddNumberToObject(o, "runs_omitted",
                                        (double) (p->n_runs - RUNS_DESCRIBED_FIRST - RUNS_DESCRIBED_LAST));
        cJSON_AddNumberToObject(o, "run_count", (double) p->n_runs);
        tail = cJSON_AddArrayToObject(o, "last_output");
        for (size_t i = 0; tail && i < p->n_tail; i++)
                cJSON_AddItemToArray(tail, cJSON_CreateString(p->tail[i]));
}

pid_t profiler_child_pid(const void *state)
{
        const Profiler *p = state;
        return p && p->current ? p->current->child : 0;
}

const SessionPartOps profiler_part_ops = {
        .name = "profiler",
        .start = profiler_start,
        .target_changed = profiler_target_changed,
        .stop = profiler_stop,
        .describe = profiler_describe,
        .free = profiler_free,
};
