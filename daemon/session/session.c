/* SPDX-License-Identifier: MIT */
#include "session-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "pidwatch.h"
#include "session-parts.h"
#include "watcher.h"

static const char *const state_table[_SESSION_STATE_MAX] = {
        [SESSION_RUNNING] = "running", [SESSION_STOPPING] = "stopping",
        [SESSION_STOPPED] = "stopped", [SESSION_INTERRUPTED] = "interrupted",
        [SESSION_FAILED] = "failed",   [SESSION_CAPTURED] = "captured",
};

const char *session_state_to_string(SessionState s)
{
        return s >= 0 && s < _SESSION_STATE_MAX ? state_table[s] : "unknown";
}

const char *session_id(const Session *s)
{
        return s->id;
}
const SessionOptions *session_options(const Session *s)
{
        return &s->o;
}
SessionState session_state(const Session *s)
{
        return s->state;
}
pid_t session_target_pid(const Session *s)
{
        return s->target_pid;
}
const SessionEnv *session_env(const Session *s)
{
        return &s->env;
}
void session_changed(Session *s)
{
        if (s->owner.changed)
                s->owner.changed(s, s->owner.userdata);
}
sd_event *session_event_loop(const Session *s)
{
        return s->env.event;
}
usec_t session_start_mono(const Session *s)
{
        return s->start_mono;
}

usec_t session_start_real(const Session *s)
{
        return s->start_real;
}

usec_t session_end_real(const Session *s)
{
        return s->end_real;
}
int session_dir_fd(const Session *s)
{
        return s->dir_fd;
}
uid_t session_file_uid(const Session *s)
{
        return s->file_uid;
}
gid_t session_file_gid(const Session *s)
{
        return s->file_gid;
}

/*
 * Every part has stopped: the record, the plot, the record again (the report reads the final
 * one), the report, the profile spooled for Pyroscope (when pyroscope_url is set), the last
 * record, then the stop's waiters and the owner. The plot, the report and the spool run in
 * children, each started from the one before once it is done: the loop goes on answering
 * meanwhile.
 */
static void session_finalise(Session *s)
{
        if (s->finalised)
                return;
        s->finalised = true;
        s->end_mono = now(CLOCK_MONOTONIC);
        s->end_real = now(CLOCK_REALTIME);
        /* Still "stopping" while the plot and the report are made in their children: status,
         * `record` and a second stop must not take the session for ended before its files are. */
        /* The plot reads the record: the final one, with the profile's coverage, is on disk first. */
        session_write_record(s);
        s->render = session_render(s);
        if (!s->render)
                session_rendered(s);
}

void session_rendered(Session *s)
{
        s->render = render_free(s->render);
        session_write_record(s); /* the report reads the final record */
        s->report = session_report(s);
        if (!s->report)
                session_reported(s, NULL);
}

void session_reported(Session *s, cJSON *memory)
{
        s->report = session_report_free(s->report);
        cJSON_Delete(s->memory_trend);
        s->memory_trend = memory;
        s->spool = session_spool(s);
        if (!s->spool)
                session_spooled(s);
}

void session_spooled(Session *s)
{
        LogFields f = session_fields(s, "session-stop", s->target_pid);

        s->spool = session_spool_free(s->spool);
        s->state = s->failure < 0 ? SESSION_FAILED : s->o.capture ? SESSION_CAPTURED : SESSION_STOPPED;
        session_write_record(s);
        log_struct(LOG_NOTICE, &f, "Session %s (%s) %s after %.1fs: %s", s->id, s->o.scenario,
                   session_state_to_string(s->state), session_elapsed(s), s->end_reason);

        s->ended = true;
        for (size_t i = 0; i < s->n_waiters; i++)
                s->waiters[i].done(s, s->waiters[i].userdata);
        s->n_waiters = 0;
        s->owner.finished(s, s->owner.userdata);
}

void session_part_stopped(Session *s, void *state)
{
        bool all = true;

        for (size_t i = 0; i < s->n_parts; i++) {
                if (s->parts[i].state == state)
                        s->parts[i].stopped = true;
                all &= s->parts[i].stopped;
        }
        if (all && s->state == SESSION_STOPPING)
                session_finalise(s);
}

int session_add_stop_waiter(Session *s, SessionDoneFunc done, void *userdata)
{
        StopWaiter *w;

        if (!done)
                return 0;
        if (s->ended) {
                done(s, userdata); /* it has ended: its record is final, the answer is now */
                return 0;
        }
        w = reallocarray(s->waiters, s->n_waiters + 1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        s->waiters = w;
        s->waiters[s->n_waiters++] = (StopWaiter){ done, userdata };
        return 0;
}

void session_remove_stop_waiter(Session *s, void *userdata)
{
        for (size_t i = 0; i < s->n_waiters; i++)
                if (s->waiters[i].userdata == userdata) {
                        s->waiters[i] = s->waiters[--s->n_waiters];
                        i--;
                }
}

int session_stop(Session *s, const char *reason, SessionDoneFunc done, void *userdata)
{
        int r = session_add_stop_waiter(s, done, userdata);

        if (r < 0 || s->state != SESSION_RUNNING)
                return r;
        s->state = SESSION_STOPPING;
        free(s->end_reason);
        s->end_reason = strdup(reason);
        s->duration_timer = sd_event_source_disable_unref(s->duration_timer);
        s->target_watch = pidwatch_free(s->target_watch);
        for (size_t i = 0; i < s->n_parts; i++)
                if (!s->parts[i].stopped)
                        s->parts[i].ops->stop(s, s->parts[i].state);
        /* Parts that stopped synchronously already counted; catch the all-done case. */
        session_part_stopped(s, NULL);
        return 0;
}

void session_fail(Session *s, int error, const char *what)
{
        char reason[512];

        if (s->failure == 0)
                s->failure = error < 0 ? error : -EIO;
        snprintf(reason, sizeof(reason), "%s: %s", what, strerror(-s->failure));
        session_event(s, "failure", 0, "%s", reason);
        session_stop(s, reason, NULL, NULL);
}

void session_target_lost(Session *s, pid_t pid)
{
        if (s->state != SESSION_RUNNING || s->o.pid)
                return;
        session_event(s, "target-exit", pid, "PAM (pid %d) exited; the session goes on and waits for it",
                      (int) pid);
        s->target_pid = 0;
        for (size_t i = 0; i < s->n_parts; i++)
                if (s->parts[i].ops->target_changed)
                        s->parts[i].ops->target_changed(s, s->parts[i].state, pid, 0);
}

void session_target_found(Session *s, pid_t pid)
{
        pid_t old = s->target_pid;

        if (s->state != SESSION_RUNNING || s->o.pid || pid == old)
                return;
        s->target_pid = pid;
        session_event(s, "target-return", pid, "PAM is back with pid %d", (int) pid);
        for (size_t i = 0; i < s->n_parts; i++)
                if (s->parts[i].ops->target_changed)
                        s->parts[i].ops->target_changed(s, s->parts[i].state, 0, pid);
}

static void on_explicit_target_exit(void *userdata, pid_t pid)
{
        Session *s = userdata;
        char reason[96];

        session_event(s, "target-exit", pid, "target pid %d exited", (int) pid);
        s->target_pid = 0;
        for (size_t i = 0; i < s->n_parts; i++)
                if (s->parts[i].ops->target_changed)
                        s->parts[i].ops->target_changed(s, s->parts[i].state, pid, 0);
        snprintf(reason, sizeof(reason), "the target (pid %d) exited", (int) pid);
        session_stop(s, reason, NULL, NULL);
}

static int on_duration(sd_event_source *src, uint64_t usec, void *userdata)
{
        Session *s = userdata;
        char reason[96];

        snprintf(reason, sizeof(reason), "duration of %gs reached", (double) s->o.duration / 1e6);
        session_stop(s, reason, NULL, NULL);
        return 0;
}

static int session_watch_explicit(Session *s)
{
        return pidwatch_new(s->env.event, s->env.proc_fd, s->target_pid, USEC_PER_SEC,
                            on_explicit_target_exit, s, &s->target_watch);
}

size_t session_parts_for(const SessionOptions *o, const SessionPartOps **ret, size_t max)
{
        size_t n = 0;

        if (o->monitor && n < max)
                ret[n++] = &monitor_part_ops;
        if (o->profile && n < max)
                ret[n++] = &profiler_part_ops;
        return n;
}

pid_t session_profiler_pid(const Session *s)
{
        for (size_t i = 0; i < s->n_parts; i++)
                if (s->parts[i].ops == &profiler_part_ops)
                        return profiler_child_pid(s->parts[i].state);
        return 0;
}

static int session_start_parts(Session *s, char **ret_error)
{
        const SessionPartOps *ops[SESSION_PARTS_MAX];
        size_t n = 0;

        if (s->env.parts)
                for (; n < ELEMENTSOF(ops) && s->env.parts[n]; n++)
                        ops[n] = s->env.parts[n];
        else
                n = session_parts_for(&s->o, ops, ELEMENTSOF(ops));

        for (size_t i = 0; i < n; i++) {
                void *state = NULL;
                int r = ops[i]->start(s, &state);
                if (r < 0) {
                        if (asprintf(ret_error, "Cannot start the %s of the session: %s.", ops[i]->name,
                                     strerror(-r)) < 0)
                                *ret_error = NULL;
                        return r;
                }
                s->parts[s->n_parts++] = (SessionPart){ .ops = ops[i], .state = state };
        }
        return 0;
}

/* The env, with its strings copied: the owner's may change (a reload) while the session runs. */
static int session_take_env(Session *s, const SessionEnv *env)
{
        s->env = *env;
        s->env.state_dir = strdup(env->state_dir ? env->state_dir : "");
        s->env.target_match = strdup(env->target_match ? env->target_match : "");
        s->env.profiler_path = strdup(env->profiler_path ? env->profiler_path : "");
        return s->env.state_dir && s->env.target_match && s->env.profiler_path ? 0 : -ENOMEM;
}

/* The session's fields from what it is given (dir_fd taken); NULL on out of memory. */
static Session *session_new(const SessionEnv *env, const SessionOwner *owner, const SessionOptions *o,
                            const Requester *who, int dir_fd, const char *dir_path, uid_t file_uid,
                            gid_t file_gid, pid_t target_pid)
{
        Session *s = calloc(1, sizeof(*s));
        struct stat st;

        if (!s) {
                close(dir_fd);
                return NULL;
        }
        s->owner = *owner;
        s->o = *o;
        s->who = *who;
        s->dir_fd = dir_fd;
        s->file_uid = file_uid;
        s->file_gid = file_gid;
        s->target_pid = target_pid;
        s->start_mono = now(CLOCK_MONOTONIC) - o->backdate;
        s->start_real = now(CLOCK_REALTIME) - o->backdate;
        s->state = SESSION_RUNNING;
        s->dir_path = strdup(dir_path);
        s->events = cJSON_CreateArray();
        if (session_take_env(s, env) < 0 || !s->dir_path || !s->events) {
                session_free(s);
                return NULL;
        }
        if (fstat(dir_fd, &st) == 0) {
                s->dir_dev = st.st_dev;
                s->dir_ino = st.st_ino;
        }
        return s;
}

/* An explicit --pid watched, and the end of a --duration armed. */
static int session_arm(Session *s, char **ret_error)
{
        int r;

        if (s->o.pid) {
                /* Who it is, for the record: a --pid names a process, not a command line to match. */
                if (target_read_cmdline(s->env.proc_fd, s->o.pid, &s->target_cmdline) < 0)
                        s->target_cmdline = NULL;
                r = session_watch_explicit(s);
                if (r < 0) {
                        if (asprintf(ret_error, "Process %d is gone.", (int) s->o.pid) < 0)
                                *ret_error = NULL;
                        return r;
                }
        }
        if (s->o.duration > 0) {
                r = sd_event_add_time(s->env.event, &s->duration_timer, CLOCK_MONOTONIC,
                                      s->start_mono + s->o.duration, USEC_PER_MSEC, on_duration, s);
                if (r < 0)
                        return r;
                /* After the sample due at the same instant, so a 60 s session has its 60th row. */
                (void) sd_event_source_set_priority(s->duration_timer, SD_EVENT_PRIORITY_NORMAL + 10);
        }
        return 0;
}

int session_start(const SessionEnv *env, const SessionOwner *owner, const SessionOptions *o,
                  const Requester *who, int dir_fd, const char *dir_path, uid_t file_uid, gid_t file_gid,
                  pid_t target_pid, Session **ret, char **ret_error)
{
        Session *s;
        LogFields f;
        int r;

        *ret_error = NULL;
        s = session_new(env, owner, o, who, dir_fd, dir_path, file_uid, file_gid, target_pid);
        if (!s)
                return -ENOMEM;
        r = session_pick_id(s);
        if (r < 0) {
                if (asprintf(ret_error, "Too many sessions named pam_%s_* this second; try again.",
                             o->scenario) < 0)
                        *ret_error = NULL;
                goto fail;
        }
        session_set_file(s, "session", "session.json");
        r = session_start_parts(s, ret_error);
        if (r >= 0)
                r = session_arm(s, ret_error);
        if (r < 0)
                goto fail;
        r = session_write_record(s);
        if (r < 0) {
                if (asprintf(ret_error, "Cannot write %s_session.json in %s: %s.", s->id, s->dir_path,
                             strerror(-r)) < 0)
                        *ret_error = NULL;
                goto fail;
        }
        f = session_fields(s, "session-start", target_pid);
        log_struct(LOG_NOTICE, &f, "Session %s started: scenario %s, pid %d, every %gs%s, for uid %u, in %s",
                   s->id, o->scenario, (int) target_pid, (double) o->interval / 1e6,
                   o->include_children ? " with children" : "", (unsigned) who->uid, s->dir_path);
        *ret = s;
        return 0;
fail:
        if (!*ret_error && asprintf(ret_error, "Cannot start the session: %s.", strerror(-r)) < 0)
                *ret_error = NULL;
        session_discard_files(s);
        session_free(s);
        return r;
}

/* A session that never started leaves nothing behind. */
void session_discard_files(Session *s)
{
        char name[192];

        for (size_t i = 0; i < s->n_files; i++)
                if (s->files[i].name[0])
                        unlinkat(s->dir_fd, s->files[i].name, 0);
        snprintf(name, sizeof(name), "%s.json", s->id);
        if (s->id[0] && s->env.records_fd >= 0)
                unlinkat(s->env.records_fd, name, 0);
}

Session *session_free(Session *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_parts; i++)
                if (s->parts[i].ops->free)
                        s->parts[i].ops->free(s->parts[i].state);
        sd_event_source_disable_unref(s->duration_timer);
        pidwatch_free(s->target_watch);
        render_free(s->render);
        session_report_free(s->report);
        session_spool_free(s->spool);
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        cJSON_Delete(s->events);
        cJSON_Delete(s->memory_trend);
        free(s->dir_path);
        free(s->end_reason);
        free(s->waiters);
        free(s->target_cmdline);
        free((char *) s->env.state_dir);
        free((char *) s->env.target_match);
        free((char *) s->env.profiler_path);
        free(s);
        return NULL;
}
