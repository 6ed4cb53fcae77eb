/* SPDX-License-Identifier: MIT */
/*
 * The flight recorder: its rows (its own sampler, every second, on an absolute grid), its
 * Austin (spawned with stdout into the aggregator's stream; restarted with a back-off when it
 * ends while PAM runs), the triggers, and the captures (capture.c).
 *
 * Its own sampler rather than a session's: the recorder runs at 1 s whatever a session's
 * interval, before and after any session, and one more read of PAM's stat and schedstat files
 * a second costs some 0.01 % of a core.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "profiler.h"
#include "recorder-internal.h"
#include "spawn.h"

/* ---- rows ---- */

const RingRow *recorder_row(const Recorder *r, size_t i)
{
        return &r->rows[(r->head + r->n_slots - r->n_rows + i) % r->n_slots];
}

size_t recorder_rows(const Recorder *r)
{
        return r->n_rows;
}

size_t recorder_names(const Recorder *r, AggName *v, size_t max)
{
        size_t n = 0;

        /* Newest first: a thread renamed keeps its last name. */
        for (size_t i = r->n_rows; i > 0; i--) {
                const RingRow *row = recorder_row(r, i - 1);
                for (size_t j = 0; j < row->n_threads; j++) {
                        size_t k;
                        for (k = 0; k < n && v[k].tid != row->threads[j].tid; k++)
                                ;
                        if (k < n || n == max)
                                continue;
                        v[n].tid = row->threads[j].tid;
                        snprintf(v[n].name, sizeof(v[n].name), "%s", row->threads[j].name);
                        n++;
                }
        }
        return n;
}

static RingRow *row_push(Recorder *r, usec_t t)
{
        RingRow *row = &r->rows[r->head];

        r->head = (r->head + 1) % r->n_slots;
        if (r->n_rows < r->n_slots)
                r->n_rows++;
        row->t = t;
        row->n_threads = 0;
        return row;
}

static void row_threads(Recorder *r, RingRow *row)
{
        const ThreadSample *t;
        size_t n = sampler_threads(r->sampler, &t);

        if (n > row->cap_threads) {
                ThreadSample *v = reallocarray(row->threads, n, sizeof(ThreadSample));
                if (!v)
                        return;
                row->threads = v;
                row->cap_threads = n;
        }
        memcpy(row->threads, t, n * sizeof(ThreadSample));
        row->n_threads = n;
}

/* ---- the recorder's own cost ---- */

static void cost_one(Sampler *s, pid_t pid, pid_t *costed, usec_t t, double *cpu, double *rss)
{
        SampleRow row;

        if (!s || pid <= 0) {
                *costed = 0;
                *cpu = *rss = NAN;
                return;
        }
        if (pid != *costed) {
                *costed = sampler_attach(s, pid, t) == 0 ? pid : 0;
                return;
        }
        if (sampler_sample(s, t, &row) == 0) {
                *cpu = row.cpu_core_percent;
                *rss = row.memory_mb;
        }
}

/* ---- captures ---- */

static void on_capture_finished(Session *s, void *userdata);

static const SessionOwner capture_owner = { .finished = on_capture_finished };

static int capture_reap(sd_event_source *src, void *userdata)
{
        Capture *c = userdata;

        sd_event_source_disable_unref(c->reap);
        session_free(c->session);
        free(c);
        return 0;
}

static void on_capture_finished(Session *s, void *userdata)
{
        Capture *c = userdata;
        Recorder *r = c->rec;

        if (c->done)
                c->done(s, c->userdata);
        c->done = NULL;
        if (r) {
                for (size_t i = 0; i < CAPTURES_MAX; i++)
                        if (r->captures[i] == c)
                                r->captures[i] = NULL;
                if (r->cb.captured)
                        r->cb.captured(r->cb.userdata, trigger_kind_to_string(c->fired.kind),
                                       session_state(s));
                c->rec = NULL;
        }
        /* Not from inside its own callbacks. */
        if (sd_event_add_defer(session_event_loop(s), &c->reap, capture_reap, c) < 0)
                log_warning("%s: cannot schedule its release", session_id(s));
}

void capture_abandon(Capture *c)
{
        c->rec = NULL;
}

static int capture_begin(Recorder *r, const TriggerFiring *f, usec_t before, usec_t after,
                         const char *scenario, const Requester *who, Capture **ret, char **ret_error)
{
        const SessionPartOps *parts[] = { &capture_part_ops, NULL };
        SessionOptions o = { .interval = USEC_PER_SEC, .monitor = true, .capture = true };
        SessionEnv env = { 0 };
        const char *path = NULL;
        usec_t t = now(CLOCK_MONOTONIC);
        size_t slot;
        Capture *c;
        int dir_fd = -1, q;

        for (slot = 0; slot < CAPTURES_MAX && r->captures[slot]; slot++)
                ;
        if (slot == CAPTURES_MAX) {
                if (asprintf(ret_error, "%d captures are being written already; try again in a moment.",
                             CAPTURES_MAX) < 0)
                        *ret_error = NULL;
                return -EBUSY;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (Capture){ .rec = r, .fired = *f, .csv_fd = -1, .threads_fd = -1, .profile_fd = -1 };
        c->t0 = (f->t > before ? f->t - before : 0) / USEC_PER_SEC * USEC_PER_SEC;
        c->t1 = f->t + after;
        c->profile = r->o.rate > 0;
        if (scenario && scenario[0])
                snprintf(o.scenario, sizeof(o.scenario), "%s", scenario);
        else
                snprintf(o.scenario, sizeof(o.scenario), "capture-%s", trigger_kind_to_string(f->kind));
        o.profile = c->profile;
        o.rate = r->o.rate;
        o.idle = true;
        snprintf(o.profiler, sizeof(o.profiler), "austin");
        o.backdate = t - c->t0;
        q = r->cb.prepare(r->cb.userdata, &env, &dir_fd, &path);
        if (q < 0) {
                free(c);
                if (asprintf(ret_error, "The daemon cannot open its output directory: %s.", strerror(-q)) <
                    0)
                        *ret_error = NULL;
                return q;
        }
        env.parts = parts;
        env.part_data = c;
        q = session_start(&env, &(SessionOwner){ .finished = on_capture_finished, .userdata = c }, &o,
                          who ? who : &(Requester){ .uid = 0, .gid = 0, .pid = getpid() }, dir_fd, path,
                          (uid_t) -1, (gid_t) -1, r->pam, &c->session, ret_error);
        if (q < 0) {
                free(c);
                return q;
        }
        (void) capture_owner;
        r->captures[slot] = c;
        r->captures_total++;
        session_event(c->session, "capture", r->pam,
                      "%s capture: %s; the window is %.0fs before and %.0fs after",
                      trigger_kind_to_string(f->kind), f->words, (double) (f->t - c->t0) / 1e6,
                      (double) after / 1e6);
        *ret = c;
        return 0;
}

static void capture_auto(Recorder *r, const TriggerFiring *f, usec_t after)
{
        _cleanup_free_ char *error = NULL;
        Capture *c;
        int q = capture_begin(r, f, r->o.window, after, NULL, NULL, &c, &error);

        if (q < 0)
                log_warning("Flight recorder: the %s capture (%s) was not saved: %s",
                            trigger_kind_to_string(f->kind), f->words, error ? error : strerror(-q));
}

int recorder_snapshot(Recorder *r, usec_t before, usec_t after, const char *scenario, const Requester *who,
                      RecorderSnapshotDone done, void *userdata, char **ret_error)
{
        TriggerFiring f;
        Capture *c;
        int q;

        *ret_error = NULL;
        if (r->pam == 0 && r->n_rows == 0) {
                if (asprintf(
                            ret_error,
                            "The flight recorder holds nothing: PAM has not run since the daemon started.") <
                    0)
                        *ret_error = NULL;
                return -ENODATA;
        }
        trigger_manual(&r->trig, now(CLOCK_MONOTONIC), &f);
        q = capture_begin(r, &f, before, after, scenario, who, &c, ret_error);
        if (q < 0)
                return q;
        c->done = done;
        c->userdata = userdata;
        return 0;
}

void recorder_forget_waiter(Recorder *r, void *userdata)
{
        for (size_t i = 0; r && i < CAPTURES_MAX; i++)
                if (r->captures[i] && r->captures[i]->userdata == userdata)
                        r->captures[i]->done = NULL;
}

const char *recorder_busy_id(const Recorder *r)
{
        for (size_t i = 0; r && i < CAPTURES_MAX; i++)
                if (r->captures[i])
                        return session_id(r->captures[i]->session);
        return NULL;
}

/* ---- sampling and triggers ---- */

static void recorder_sample(Recorder *r, usec_t t)
{
        SampleRow row;
        RingRow *rr;
        TriggerFiring f;
        int q;

        if (sampler_pid(r->sampler) == 0)
                return;
        q = sampler_sample(r->sampler, t, &row);
        if (q < 0)
                return; /* gone (the watcher reports it), or a new baseline */
        cost_one(r->austin_cost, r->austin, &r->austin_costed, t, &r->austin_cpu, &r->austin_rss);
        cost_one(r->agg_cost, aggregator_pid(r->agg), &r->agg_costed, t, &r->agg_cpu, &r->agg_rss);
        row.realtime = now(CLOCK_REALTIME);
        /* The profiler's columns: the recorder's Austin, as a session's are its profiler. */
        row.profiler_cpu_percent = isnan(r->austin_cpu)
                ? NAN
                : r->austin_cpu / (row.cpu_percent > 0 ? row.cpu_core_percent / row.cpu_percent : 1);
        row.profiler_rss_mb = r->austin_rss;
        rr = row_push(r, t);
        rr->row = row;
        if (r->o.threads || r->o.rate > 0)
                row_threads(r, rr);
        for (size_t i = 0; i < CAPTURES_MAX; i++)
                if (r->captures[i])
                        capture_row(r->captures[i], rr);
        if (trigger_feed(&r->trig, &r->o.triggers,
                         &(TriggerRow){ .t = t,
                                        .cpu_core_percent = row.cpu_core_percent,
                                        .rss_mb = row.memory_mb,
                                        .threads = row.threads },
                         &f))
                capture_auto(r, &f, r->o.after);
        if (r->agg && t / USEC_PER_SEC % 5 == 0)
                (void) aggregator_stats(r->agg);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        Recorder *r = userdata;
        usec_t t = now(CLOCK_MONOTONIC);

        recorder_sample(r, t);
        if (r->pam == 0)
                return sd_event_source_set_enabled(src, SD_EVENT_OFF);
        /* The next whole second: rows land on the stack ring's seconds. */
        sd_event_source_set_time(src, (t / USEC_PER_SEC + 1) * USEC_PER_SEC);
        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

/* ---- the manager's side ---- */

void recorder_target_found(Recorder *r, pid_t pid)
{
        usec_t t = now(CLOCK_MONOTONIC);

        if (r->pam == pid)
                return;
        r->pam = pid;
        (void) sampler_attach(r->sampler, pid, t);
        sd_event_source_set_time(r->timer, (t / USEC_PER_SEC + 1) * USEC_PER_SEC);
        sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
        r->austin_failures = 0;
        recorder_austin_start(r);
}

void recorder_target_lost(Recorder *r, pid_t pid)
{
        TriggerFiring f;
        usec_t t = now(CLOCK_MONOTONIC);

        r->pam = 0;
        sampler_detach(r->sampler);
        r->restart_timer = sd_event_source_disable_unref(r->restart_timer);
        if (trigger_exit(&r->trig, &r->o.triggers, t, &f)) {
                r->pam = pid; /* the capture names the pid that exited */
                capture_auto(r, &f, 0);
                r->pam = 0;
        }
}

void recorder_pause(Recorder *r, const char *why)
{
        if (r->paused)
                return;
        r->paused = true;
        snprintf(r->pause_why, sizeof(r->pause_why), "%s", why);
        recorder_austin_stop(r);
        if (r->pam)
                recorder_gap_open(r, "paused: %s", why);
        log_info("Flight recorder: Austin paused (%s); rows go on", why);
}

void recorder_resume(Recorder *r)
{
        if (!r->paused)
                return;
        r->paused = false;
        r->pause_why[0] = '\0';
        recorder_austin_start(r);
}

cJSON *recorder_status_json(Recorder *r)
{
        cJSON *o = cJSON_CreateObject();
        const StackRingStats *st = r->agg ? aggregator_last_stats(r->agg) : NULL;
        usec_t t = now(CLOCK_MONOTONIC);
        char words[160];
        double held = r->n_rows ? (double) (t - recorder_row(r, 0)->t) / 1e6 : 0;

        if (!o)
                return NULL;
        cJSON_AddBoolToObject(o, "on", true);
        cJSON_AddNumberToObject(o, "window_seconds", (double) r->o.window / 1e6);
        cJSON_AddNumberToObject(o, "after_seconds", (double) r->o.after / 1e6);
        cJSON_AddNumberToObject(o, "rate", r->o.rate);
        cJSON_AddNumberToObject(o, "rows", (double) r->n_rows);
        cJSON_AddNumberToObject(o, "seconds_held", round(held));
        cJSON_AddStringToObject(o, "austin",
                                r->austin                ? "running"
                                        : r->paused      ? "paused"
                                        : r->o.rate == 0 ? "off"
                                                         : "stopped");
        if (r->paused)
                cJSON_AddStringToObject(o, "paused_for", r->pause_why);
        if (r->austin_problem[0])
                cJSON_AddStringToObject(o, "problem", r->austin_problem);
        if (st) {
                cJSON_AddNumberToObject(o, "stack_seconds_held",
                                        st->last_second ? (double) (st->last_second - st->first_second + 1)
                                                        : 0);
                cJSON_AddNumberToObject(o, "stacks", (double) st->stacks);
                cJSON_AddNumberToObject(o, "aggregator_memory_bytes", (double) st->memory_bytes);
                cJSON_AddNumberToObject(o, "samples", (double) st->samples);
                cJSON_AddNumberToObject(o, "bad_lines", (double) st->bad_lines);
        }
        cJSON_AddNumberToObject(o, "austin_cpu_core_percent", isnan(r->austin_cpu) ? 0 : r->austin_cpu);
        cJSON_AddNumberToObject(o, "aggregator_cpu_core_percent", isnan(r->agg_cpu) ? 0 : r->agg_cpu);
        cJSON_AddNumberToObject(o, "austin_rss_mb", isnan(r->austin_rss) ? 0 : r->austin_rss);
        cJSON_AddNumberToObject(o, "aggregator_rss_mb", isnan(r->agg_rss) ? 0 : r->agg_rss);
        cJSON_AddNumberToObject(o, "captures_last_hour", trigger_captures_last_hour(&r->trig, t));
        cJSON_AddNumberToObject(o, "captures", r->captures_total);
        cJSON_AddNumberToObject(o, "held_back", r->trig.held_back);
        trigger_describe(&r->trig, &r->o.triggers, t, words, sizeof(words));
        cJSON_AddStringToObject(o, "trigger_state", words);
        return o;
}

void recorder_status_words(Recorder *r, char *buf, size_t size)
{
        usec_t t = now(CLOCK_MONOTONIC);
        double held = r->n_rows ? (double) (t - recorder_row(r, 0)->t) / 1e6 : 0;

        snprintf(buf, size, "recorder holding %.0fs%s, %u captures in the last hour", held,
                 r->austin           ? " with stacks"
                         : r->paused ? " (stacks paused)"
                                     : "",
                 trigger_captures_last_hour(&r->trig, t));
}

int recorder_new(sd_event *e, const RecorderOptions *o, const RecorderCallbacks *cb, Recorder **ret)
{
        Recorder *r = calloc(1, sizeof(*r));
        int q;

        if (!r)
                return -ENOMEM;
        r->event = e;
        r->o = *o;
        r->cb = *cb;
        r->austin_cpu = r->agg_cpu = r->austin_rss = r->agg_rss = NAN;
        r->austin_path_conf = strdup(o->austin_path ? o->austin_path : "");
        r->o.austin_path = NULL;
        trigger_init(&r->trig);
        r->n_slots = (size_t) ((o->window + o->after) / USEC_PER_SEC) + 4;
        r->rows = calloc(r->n_slots, sizeof(RingRow));
        if (!r->austin_path_conf || !r->rows) {
                recorder_free(r);
                return -ENOMEM;
        }
        /* The threads are listed whenever there are stacks to name, threads = no or not: Austin gives
         * kernel tids only, and their names are each row's comm, as a session's Austin run reads them
         * every second (profiler-threads.c). threads = no only leaves _threads.csv out. */
        q = sampler_new(&(SamplerOptions){ .proc_fd = o->proc_fd, .threads = o->threads || o->rate > 0 },
                        &r->sampler);
        if (q >= 0)
                q = sampler_new(&(SamplerOptions){ .proc_fd = o->proc_fd }, &r->austin_cost);
        if (q >= 0)
                q = sampler_new(&(SamplerOptions){ .proc_fd = o->proc_fd }, &r->agg_cost);
        if (q >= 0)
                q = sd_event_add_time(e, &r->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_timer, r);
        if (q >= 0)
                q = sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
        if (q >= 0 && o->rate > 0)
                q = aggregator_start(e, (unsigned) r->n_slots + 4, recorder_on_agg_gone, r, &r->agg);
        if (q < 0) {
                recorder_free(r);
                return q;
        }
        *ret = r;
        return 0;
}

Recorder *recorder_free(Recorder *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < CAPTURES_MAX; i++)
                if (r->captures[i]) {
                        capture_abandon(r->captures[i]);
                        session_stop(r->captures[i]->session, "pamprofd was stopped", NULL, NULL);
                }
        recorder_austin_stop(r);
        r->austin_src = sd_event_source_disable_unref(r->austin_src);
        r->timer = sd_event_source_disable_unref(r->timer);
        r->agg = aggregator_free(r->agg);
        sampler_free(r->sampler);
        sampler_free(r->austin_cost);
        sampler_free(r->agg_cost);
        for (size_t i = 0; r->rows && i < r->n_slots; i++)
                free(r->rows[i].threads);
        free(r->rows);
        free(r->austin_path);
        free(r->austin_path_conf);
        free(r);
        return NULL;
}
