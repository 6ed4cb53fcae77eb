/* SPDX-License-Identifier: MIT */
/*
 * A capture is a session whose one part is this: at start it writes the rows the recorder holds
 * from the window's start into _cpu.csv and _threads.csv, then each new row until the window's
 * end, then asks the aggregator for the window's stacks as _profile.speedscope.json, and stops
 * its session: the plot, the report and the spool follow as for any session.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "recorder-internal.h"
#include "sort-util.h"

static void capture_close(Capture *c, int *fd)
{
        if (*fd < 0)
                return;
        if (fsync(*fd) < 0 && errno != EINVAL)
                log_warning_errno(errno, "%s: fsync failed", session_id(c->session));
        close(*fd);
        *fd = -1;
}

void capture_row(Capture *c, const RingRow *rr)
{
        char line[1024], buf[16384];
        SampleRow row = rr->row;
        size_t len = 0;
        int k;

        if (c->rows_done || c->csv_fd < 0 || rr->t < c->t0 || rr->t > c->t1)
                return;
        row.elapsed = (double) (rr->t - c->t0) / 1e6;
        k = sample_row_format(&row, line, sizeof(line));
        if (k < 0)
                return;
        if (write_all(c->csv_fd, line, (size_t) k) < 0) {
                session_fail(c->session, -errno, "writing _cpu.csv");
                return;
        }
        c->rows++;
        stats_add(&c->stats, row.elapsed, row.cpu_percent, row.memory_mb);
        for (size_t i = 0; c->threads_fd >= 0 && i < rr->n_threads; i++) {
                k = thread_row_format(row.elapsed, &rr->threads[i], buf + len, sizeof(buf) - len);
                if (k < 0)
                        break;
                len += (size_t) k;
        }
        if (len && write_all(c->threads_fd, buf, len) < 0)
                session_fail(c->session, -errno, "writing _threads.csv");
}

static void capture_finish(Capture *c, const char *reason)
{
        c->timer = sd_event_source_disable_unref(c->timer);
        if (session_state(c->session) == SESSION_RUNNING)
                session_stop(c->session, reason, NULL, NULL);
}

static void profile_verdict(Capture *c, const AggReply *rep)
{
        char why[200] = "";
        usec_t missing = recorder_gaps(c->rec, c->t0, c->t1, why, sizeof(why));
        double len = (double) (c->t1 - c->t0);

        c->coverage = len > 0 ? 1.0 - (double) missing / len : 1.0;
        if (c->coverage < 0)
                c->coverage = 0;
        if (!rep) {
                snprintf(c->profile_state, sizeof(c->profile_state), "lost");
                snprintf(c->profile_reason, sizeof(c->profile_reason),
                         "the aggregator of Austin's stacks ended before it wrote the window%s%s",
                         why[0] ? "; " : "", why);
                return;
        }
        c->facts = rep->facts;
        if (rep->r < 0) {
                snprintf(c->profile_state, sizeof(c->profile_state), "lost");
                snprintf(c->profile_reason, sizeof(c->profile_reason), "%s",
                         rep->error[0] ? rep->error : strerror(-rep->r));
        } else if (rep->facts.samples == 0) {
                snprintf(c->profile_state, sizeof(c->profile_state), "lost");
                snprintf(c->profile_reason, sizeof(c->profile_reason),
                         "no stack was sampled in the window%s%s", why[0] ? ": " : "", why);
        } else if (missing > 0) { /* any gap: a killed Austin's second is as missing as a paused minute */
                snprintf(c->profile_state, sizeof(c->profile_state), "partial");
                snprintf(c->profile_reason, sizeof(c->profile_reason),
                         "the stacks cover %.0f%% of the window: %s", c->coverage * 100, why);
        } else
                snprintf(c->profile_state, sizeof(c->profile_state), "ok");
}

static void on_profile_written(const AggReply *rep, void *userdata)
{
        Capture *c = userdata;
        char name[256];

        capture_close(c, &c->profile_fd);
        profile_verdict(c, rep);
        snprintf(name, sizeof(name), "%s_profile.speedscope.json", session_id(c->session));
        if (strcmp(c->profile_state, "lost") == 0) {
                (void) unlinkat(session_dir_fd(c->session), name, 0);
                session_event(c->session, "profile-lost", 0, "no profile: %s", c->profile_reason);
        } else
                (void) session_create_file(c->session, "profile", "profile.speedscope.json", NULL);
        capture_finish(c, "the window is saved");
}

static int by_tid(const void *a, const void *b)
{
        const ThreadSample *x = a, *y = b;

        return (x->tid > y->tid) - (x->tid < y->tid);
}

/* The thread with the most CPU from FOCUS_BEFORE before the trigger to the window's end (the
 * "(ended threads)" row aside), its mean over those rows: what the profile opens on and the
 * record names. Every thread row of those seconds, sorted by tid, summed by runs. */
static void capture_find_busiest(Capture *c)
{
        usec_t from = c->fired.t > c->t0 + FOCUS_BEFORE ? c->fired.t - FOCUS_BEFORE : c->t0;
        _cleanup_free_ ThreadSample *v = NULL;
        size_t n = 0, cap = 0, rows = 0;

        c->busiest = (ThreadSample){ 0 };
        for (size_t i = 0; i < recorder_rows(c->rec); i++) {
                const RingRow *row = recorder_row(c->rec, i);
                if (row->t < from || row->t > c->t1)
                        continue;
                rows++;
                if (GREEDY_GROW(v, cap, n + row->n_threads, 64) < 0)
                        return; /* no memory: the profile opens on its first thread */
                for (size_t j = 0; j < row->n_threads; j++)
                        if (row->threads[j].tid > 0 && isfinite(row->threads[j].cpu_core_percent))
                                v[n++] = row->threads[j];
        }
        qsort_safe(v, n, sizeof(*v), by_tid);
        for (size_t i = 0, j; i < n; i = j) {
                double sum = 0;
                for (j = i; j < n && v[j].tid == v[i].tid; j++)
                        sum += v[j].cpu_core_percent;
                if (sum / (double) rows > c->busiest.cpu_core_percent) {
                        c->busiest = v[j - 1];
                        c->busiest.cpu_core_percent = sum / (double) rows;
                }
        }
}

static void capture_ask_profile(Capture *c)
{
        AggName names[AGG_NAMES_MAX];
        size_t n = recorder_names(c->rec, names, AGG_NAMES_MAX);
        uint64_t first = c->t0 / USEC_PER_SEC, last = (c->t1 + USEC_PER_SEC - 1) / USEC_PER_SEC;
        char name[256];
        int r;

        c->asked = true;
        capture_find_busiest(c);
        snprintf(name, sizeof(name), "%s_profile.speedscope.json", session_id(c->session));
        r = create_file_at(session_dir_fd(c->session), name, session_file_uid(c->session),
                           session_file_gid(c->session), &c->profile_fd);
        if (r >= 0)
                r = aggregator_write(c->rec->agg, first, (unsigned) (last - first),
                                     session_target_pid(c->session), c->busiest.tid, names, n, c->profile_fd,
                                     on_profile_written, c);
        if (r < 0) {
                capture_close(c, &c->profile_fd);
                (void) unlinkat(session_dir_fd(c->session), name, 0);
                snprintf(c->profile_state, sizeof(c->profile_state), "lost");
                snprintf(c->profile_reason, sizeof(c->profile_reason), "cannot ask for the stacks: %s",
                         c->rec->agg ? strerror(-r) : "the aggregator is not running");
                session_event(c->session, "profile-lost", 0, "no profile: %s", c->profile_reason);
                capture_finish(c, "the window is saved");
        }
}

static int on_capture_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        Capture *c = userdata;

        if (!c->rows_done) {
                c->rows_done = true;
                capture_close(c, &c->csv_fd);
                capture_close(c, &c->threads_fd);
                if (c->profile && c->rec->agg) {
                        /* Austin's last lines of the window are in flight: ask a little later. */
                        sd_event_source_set_time(src, c->t1 + FLUSH_MARGIN);
                        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
                }
                if (c->profile)
                        capture_ask_profile(c); /* says why there is none */
                else
                        capture_finish(c, "the window is saved");
                return 0;
        }
        capture_ask_profile(c);
        return 0;
}

static int capture_open(Capture *c, Session *s)
{
        char header[512];
        int r;

        r = session_create_file(s, "cpu_csv", "cpu.csv", &c->csv_fd);
        if (r < 0)
                return r;
        snprintf(header, sizeof(header), "%s\n", sample_csv_header);
        r = write_all(c->csv_fd, header, strlen(header));
        if (r < 0 || !c->rec->o.threads)
                return r;
        r = session_create_file(s, "threads_csv", "threads.csv", &c->threads_fd);
        if (r < 0)
                return r;
        snprintf(header, sizeof(header), "%s\n", thread_csv_header);
        return write_all(c->threads_fd, header, strlen(header));
}

static int capture_start(Session *s, void **ret_state)
{
        Capture *c = session_env(s)->part_data;
        int r;

        c->session = s;
        stats_init(&c->stats);
        r = capture_open(c, s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < recorder_rows(c->rec); i++)
                capture_row(c, recorder_row(c->rec, i));
        r = sd_event_add_time(session_event_loop(s), &c->timer, CLOCK_MONOTONIC, c->t1, USEC_PER_MSEC,
                              on_capture_timer, c);
        if (r < 0)
                return r;
        *ret_state = c;
        return 0;
}

static void capture_stop(Session *s, void *state)
{
        Capture *c = state;

        c->timer = sd_event_source_disable_unref(c->timer);
        capture_close(c, &c->csv_fd);
        capture_close(c, &c->threads_fd);
        if (c->asked && !c->profile_state[0]) { /* stopped from outside while the profile was written */
                aggregator_forget(c->rec ? c->rec->agg : NULL, c);
                capture_close(c, &c->profile_fd);
                snprintf(c->profile_state, sizeof(c->profile_state), "lost");
                snprintf(c->profile_reason, sizeof(c->profile_reason), "the capture was stopped first");
        } else if (c->profile && !c->profile_state[0]) {
                snprintf(c->profile_state, sizeof(c->profile_state), "lost");
                snprintf(c->profile_reason, sizeof(c->profile_reason),
                         "the capture was stopped before its end");
        }
        c->done_part = true;
        session_part_stopped(s, c);
}

static void add_real(cJSON *o, const char *key, usec_t real)
{
        char buf[ISO8601_MAX];

        if (format_iso8601(real, buf, sizeof(buf)) >= 0)
                cJSON_AddStringToObject(o, key, buf);
}

static void describe_profile(Capture *c, cJSON *into)
{
        cJSON *p = cJSON_AddObjectToObject(into, "profile");

        if (!p)
                return;
        cJSON_AddStringToObject(p, "profiler", "austin");
        cJSON_AddStringToObject(p, "profiler_name", "Austin");
        cJSON_AddStringToObject(p, "source", "flight recorder");
        cJSON_AddNumberToObject(p, "rate", c->rec ? c->rec->o.rate : 0);
        cJSON_AddBoolToObject(p, "idle", true);
        cJSON_AddBoolToObject(p, "threads_on_one_clock", true);
        cJSON_AddNumberToObject(p, "started_at_unix", (double) session_start_real(c->session) / 1e6);
        cJSON_AddStringToObject(p, "state", c->profile_state[0] ? c->profile_state : "recording");
        if (c->profile_reason[0])
                cJSON_AddStringToObject(p, "reason", c->profile_reason);
        if (!c->asked)
                return;
        cJSON_AddNumberToObject(p, "samples", (double) c->facts.samples);
        cJSON_AddNumberToObject(p, "other_samples", (double) c->facts.other_samples);
        cJSON_AddNumberToObject(p, "threads", (double) c->facts.profiles);
        cJSON_AddNumberToObject(p, "frames", (double) c->facts.frames);
        cJSON_AddNumberToObject(p, "seconds_with_samples", c->facts.seconds_with_samples);
        cJSON_AddNumberToObject(p, "coverage", round(c->coverage * 1000) / 1000);
}

static void capture_describe(Session *s, void *state, cJSON *into)
{
        Capture *c = state;
        usec_t start = session_start_real(s);
        StatsSummary sum;
        cJSON *o;

        cJSON_AddNumberToObject(into, "rows", (double) c->rows);
        stats_summary(&c->stats, &sum);
        (void) stats_summary_to_json(&sum, into);
        o = cJSON_AddObjectToObject(into, "capture");
        if (o) {
                cJSON_AddStringToObject(o, "trigger", trigger_kind_to_string(c->fired.kind));
                cJSON_AddStringToObject(o, "message", c->fired.words);
                add_real(o, "fired_at", start + (c->fired.t - c->t0));
                cJSON_AddNumberToObject(o, "fired_elapsed_seconds", (double) (c->fired.t - c->t0) / 1e6);
                if (c->fired.kind != TRIGGER_MANUAL && c->fired.kind != TRIGGER_EXIT) {
                        cJSON_AddNumberToObject(o, "value", c->fired.value);
                        cJSON_AddNumberToObject(o, "baseline", c->fired.baseline);
                        cJSON_AddNumberToObject(o, "threshold", c->fired.threshold);
                }
                if (c->fired.kind == TRIGGER_CPU)
                        cJSON_AddNumberToObject(o, "samples", c->fired.samples);
                add_real(o, "window_start", start);
                add_real(o, "window_end", start + (c->t1 - c->t0));
                cJSON_AddNumberToObject(o, "before_seconds", (double) (c->fired.t - c->t0) / 1e6);
                cJSON_AddNumberToObject(o, "after_seconds", (double) (c->t1 - c->fired.t) / 1e6);
                if (c->busiest.tid > 0) {
                        cJSON *b = cJSON_AddObjectToObject(o, "busiest_thread");
                        if (b) {
                                cJSON_AddNumberToObject(b, "tid", c->busiest.tid);
                                cJSON_AddStringToObject(b, "name", c->busiest.name);
                                cJSON_AddNumberToObject(b, "cpu_core_percent",
                                                        round(c->busiest.cpu_core_percent * 10) / 10);
                        }
                }
        }
        if (c->profile)
                describe_profile(c, into);
}

static void capture_free(void *state)
{
        Capture *c = state;

        if (!c)
                return;
        c->timer = sd_event_source_disable_unref(c->timer);
        if (c->csv_fd >= 0)
                close(c->csv_fd);
        if (c->threads_fd >= 0)
                close(c->threads_fd);
        if (c->profile_fd >= 0)
                close(c->profile_fd);
        c->csv_fd = c->threads_fd = c->profile_fd = -1;
        if (c->rec)
                aggregator_forget(c->rec->agg, c);
        /* The Capture itself is the recorder's (it frees it with the session). */
}

const SessionPartOps capture_part_ops = {
        .name = "flight recorder capture",
        .start = capture_start,
        .stop = capture_stop,
        .describe = capture_describe,
        .free = capture_free,
};
