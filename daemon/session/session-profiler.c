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
 * the output directory with O_EXCL|O_NOFOLLOW, owned by the client.
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
#include <inttypes.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "pidwatch.h"
#include "profile-coverage.h"
#include "profile-merge.h"
#include "profiler.h"
#include "profiler-restart.h"
#include "profiler-threads.h"
#include "proc-read.h"
#include "session-parts.h"
#include "spawn.h"

/* Each run's merge input is an open file at stop: well under the 1024 descriptors of a service. */
#define RUNS_MAX 512
#define TAIL_LINES 12
#define NAMES_EVERY USEC_PER_SEC
/* The least a run lives before it is told to stop (py-spy and Austin set their SIGINT handler first). */
#define RUN_MIN_LIFE (500 * USEC_PER_MSEC)

typedef enum RunOutcome {
        RUN_RUNNING,
        RUN_OK,      /* a complete file */
        RUN_PARTIAL, /* a file cut short, used up to where it is whole */
        RUN_FAILED,  /* exited early without a usable file */
        RUN_LOST,    /* killed after the grace period: no file */
        RUN_GONE,    /* its target exited as it started: nothing to profile, nothing lost */
} RunOutcome;

static const char *const outcome_names[] = {
        [RUN_RUNNING] = "running", [RUN_OK] = "ok",     [RUN_PARTIAL] = "partial",
        [RUN_FAILED] = "failed",   [RUN_LOST] = "lost", [RUN_GONE] = "target-gone",
};

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
        /* the conversion child, while one runs */
        pid_t conv_pid;
        int conv_fd;
        sd_event_source *conv_source;
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
        char result[64]; /* "ok", "missing", "lost" … for the record */
        char result_reason[400];
        char file[256]; /* the final file's name, when there is one */
        MergeFacts facts;
        cJSON *threads;
};

static void profiler_run_start(Profiler *p, pid_t target);
static void profiler_run_stop(Profiler *p);
static void profiler_finish(Profiler *p);
static bool usable(const Run *r);

static void remember_line(Profiler *p, const char *line)
{
        LogFields f = { .session = session_id(p->session),
                        .event = "profiler-output",
                        .pid = p->current ? p->current->child : 0 };

        log_struct(LOG_INFO, &f, "%s: %s[%d]: %s", session_id(p->session), p->backend->name, (int) f.pid,
                   line);
        if (p->n_tail == TAIL_LINES) {
                memmove(p->tail[0], p->tail[1], sizeof(p->tail[0]) * (TAIL_LINES - 1));
                p->n_tail--;
        }
        snprintf(p->tail[p->n_tail++], sizeof(p->tail[0]), "%s", line);
}

static void drain_output(Profiler *p)
{
        char buf[4096];
        ssize_t n;

        while (p->output_fd >= 0 && (n = read(p->output_fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' || p->linelen == sizeof(p->linebuf) - 1) {
                                p->linebuf[p->linelen] = '\0';
                                if (p->linelen > 0)
                                        remember_line(p, p->linebuf);
                                p->linelen = 0;
                                if (buf[i] == '\n')
                                        continue;
                        }
                        p->linebuf[p->linelen++] = buf[i];
                }
}

static void close_output(Profiler *p)
{
        drain_output(p);
        if (p->linelen > 0) {
                p->linebuf[p->linelen] = '\0';
                remember_line(p, p->linebuf);
                p->linelen = 0;
        }
        p->output_source = sd_event_source_disable_unref(p->output_source);
        if (p->output_fd >= 0)
                close(p->output_fd);
        p->output_fd = -1;
}

static int on_output(sd_event_source *s, const struct inotify_event *event, void *userdata)
{
        drain_output(userdata);
        return 0;
}

static const char *last_line(const Profiler *p)
{
        const char *noise = p->backend->output_noise;

        for (size_t i = p->n_tail; i > 0; i--)
                if (!noise || strncmp(p->tail[i - 1], noise, strlen(noise)) != 0)
                        return p->tail[i - 1];
        return "no output";
}

/* The grace the backend gets after its stop signal: its own, within stop_timeout. */
static usec_t grace(const Profiler *p)
{
        usec_t t = session_env(p->session)->stop_timeout, g = p->backend->grace;

        return g > 0 && g < t ? g : t;
}

static void names_scan(Profiler *p)
{
        if (p->names && p->current)
                thread_recorder_scan(p->names, p->current->target);
}

static int on_names_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        names_scan(userdata);
        sd_event_source_set_time_relative(s, NAMES_EVERY);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

static void names_stop(Profiler *p)
{
        p->names_timer = sd_event_source_disable_unref(p->names_timer);
        p->names = thread_recorder_free(p->names);
}

/* Judge a finished run by its file and how it ended (the backend knows what each means). */
static void judge_run(Profiler *p, Run *run, const siginfo_t *si, bool target_alive)
{
        const SessionEnv *m = session_env(p->session);
        _cleanup_close_ int fd = openat(m->staging_fd, run->raw, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ProfileJudgement j;
        ProfilerExit e = {
                .target = run->target,
                .code = si->si_code == CLD_EXITED ? si->si_status : -1,
                .signal = si->si_code == CLD_EXITED ? 0 : si->si_status,
                .stop_sent = run->stop_sent,
                .killed = run->killed,
                .grace = (double) grace(p) / 1e6,
                .last_line = last_line(p),
                .target_alive = target_alive,
        };
        static const RunOutcome outcomes[] = {
                [PROFILE_OK] = RUN_OK,
                [PROFILE_PARTIAL] = RUN_PARTIAL,
                [PROFILE_FAILED] = RUN_FAILED,
                [PROFILE_LOST] = RUN_LOST,
        };

        run->ended_real = now(CLOCK_REALTIME);
        run->exit_code = si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
        p->backend->judge(fd, &e, &j);
        run->size = j.size;
        run->outcome = outcomes[j.verdict];
        run->final = j.final;
        run->no_target = j.no_target;
        snprintf(run->reason, sizeof(run->reason), "%s", j.reason);
}

static void unlink_run(Profiler *p, const Run *run)
{
        int dfd = session_env(p->session)->staging_fd;

        (void) unlinkat(dfd, run->staged, 0);
        if (strcmp(run->raw, run->staged) != 0)
                (void) unlinkat(dfd, run->raw, 0);
        if (run->names[0])
                (void) unlinkat(dfd, run->names, 0);
}

static bool finished(const Profiler *p)
{
        return p->stopping && !p->current && p->converting == 0;
}

static void convert_done(Run *run)
{
        Profiler *p = run->owner;

        run->conv_source = sd_event_source_disable_unref(run->conv_source);
        if (run->conv_fd >= 0)
                close(run->conv_fd);
        run->conv_fd = -1;
        run->conv_pid = 0;
        p->converting--;
}

static int on_convert_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        Run *run = userdata;
        Profiler *p = run->owner;
        ProfileConvertResult res = { .r = -ECHILD };
        size_t got = 0;
        ssize_t n;

        while (got < sizeof(res) && (n = read(run->conv_fd, (char *) &res + got, sizeof(res) - got)) > 0)
                got += (size_t) n;
        if (got < sizeof(res))
                res = (ProfileConvertResult){ .r = -ECHILD };
        if (got < sizeof(res))
                snprintf(res.message, sizeof(res.message), "the converter died (%s %d)",
                         si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        convert_done(run);
        run->conv = res;
        if (res.r >= 0) {
                run->converted = true;
                (void) unlinkat(session_env(p->session)->staging_fd, run->raw, 0);
                log_info("%s: %s run %zu converted: %" PRIu64 " samples, %zu threads, %zu frames%s",
                         session_id(p->session), p->backend->display, (size_t) (run - p->runs) + 1,
                         res.samples, res.profiles, res.frames,
                         res.cut ? ", up to its last whole line" : "");
        } else {
                run->outcome = RUN_FAILED;
                p->failed_runs++;
                snprintf(run->reason, sizeof(run->reason),
                         "its output could not be converted to speedscope: %s",
                         res.message[0] ? res.message : strerror(-res.r));
                session_event(p->session, "profiler-failed", run->target, "%s run %zu: %s",
                              p->backend->display, (size_t) (run - p->runs) + 1, run->reason);
        }
        if (finished(p))
                profiler_finish(p);
        return 0;
}

/* In a child: the conversion reads and writes files only, and the loop goes on meanwhile. */
static void convert_start(Profiler *p, Run *run)
{
        Session *s = p->session;
        int fds[2], r;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                goto fail;
        }
        if (pid == 0) {
                ProfileConvertResult res;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(fds[0]);
                (void) profiler_convert_staged(p->backend, session_env(s)->staging_fd, run->raw,
                                               run->names[0] ? run->names : NULL, run->staged,
                                               session_options(s)->subprocesses, p->version, &res);
                (void) write_all(fds[1], &res, sizeof(res));
                _exit(0);
        }
        close(fds[1]);
        run->conv_pid = pid;
        run->conv_fd = fds[0];
        p->converting++;
        r = sd_event_add_child(session_event_loop(s), &run->conv_source, pid, WEXITED, on_convert_exit, run);
        if (r >= 0)
                return;
        kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        convert_done(run);
fail:
        run->outcome = RUN_FAILED;
        snprintf(run->reason, sizeof(run->reason), "its output could not be converted: %s", strerror(-r));
}

/* What became of a run that ended, in the events; an early one's event comes with its restart. */
static void run_event(Profiler *p, const Run *run, size_t n)
{
        const char *name = p->backend->display;

        if (run->outcome == RUN_OK)
                session_event(p->session, "profiler-chunk", run->target, "%s run %zu ended (%zu bytes)%s%s",
                              name, n, run->size, run->reason[0] ? ", " : "", run->reason);
        else if (run->outcome == RUN_PARTIAL)
                session_event(p->session, "profiler-partial", run->target, "%s run %zu: %s", name, n,
                              run->reason);
        else if (run->outcome == RUN_FAILED)
                session_event(p->session, "profiler-failed", run->target, "%s failed: %s", name,
                              run->reason);
        else
                session_event(p->session, "profiler-failed", run->target, "%s", run->reason);
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata);

/*
 * A run ended by itself while its target still ran: say so, with how long it
 * lasted and why, and start another after the back-off (profiler-restart.h).
 */
static void run_ended_early(Profiler *p, Run *run, size_t n)
{
        Session *s = p->session;
        const char *name = p->backend->display;
        double lasted = (double) (run->ended_mono - run->started_mono) / 1e6;
        RestartDecision d = restart_decide(&p->restart, run->ended_mono, usable(run));
        char plan[160];
        int r;

        if (run->final) {
                d.kind = RESTART_NONE;
                snprintf(plan, sizeof(plan), "not started again: another run would fail the same way");
        } else if (d.kind == RESTART_NONE)
                snprintf(plan, sizeof(plan), "not started again: it failed %u times in a row",
                         d.failed_in_row);
        else if (d.kind == RESTART_CAPPED)
                snprintf(plan, sizeof(plan),
                         "restart in %.1f s: %d restarts in the last minute, the most pamprofd makes",
                         (double) d.delay / 1e6, RESTARTS_PER_MINUTE);
        else
                snprintf(plan, sizeof(plan), "restart %u in %g s%s", p->restart.total + 1,
                         (double) d.delay / 1e6,
                         d.failed_in_row ? " (failed runs back off, 0.5 s doubling to 8 s)" : "");
        if (usable(run)) {
                p->early_exits++;
                session_event(s, "profiler-early-exit", run->target,
                              "%s run %zu stopped early, after %.2f s: %s; %s", name, n, lasted, run->reason,
                              plan);
        } else
                session_event(s, "profiler-failed", run->target, "%s run %zu failed after %.2f s: %s; %s",
                              name, n, lasted, run->reason, plan);
        if (d.kind == RESTART_NONE) {
                if (!run->final)
                        p->gave_up_after = d.failed_in_row;
                return;
        }
        p->restart_target = run->target;
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        r = sd_event_add_time(session_event_loop(s), &p->restart_timer, CLOCK_MONOTONIC,
                              run->ended_mono + d.delay, 10 * USEC_PER_MSEC, on_restart_timer, p);
        if (r < 0)
                log_warning_errno(r, "%s: cannot time the restart of %s; it stays stopped", session_id(s),
                                  name);
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        Profiler *p = userdata;
        Run *run = p->current;
        bool alive;
        size_t n;
        pid_t next;

        p->child_source = sd_event_source_disable_unref(p->child_source);
        p->kill_timer = sd_event_source_disable_unref(p->kill_timer);
        p->stop_timer = sd_event_source_disable_unref(p->stop_timer);
        if (p->chunk_timer)
                (void) sd_event_source_set_enabled(p->chunk_timer, SD_EVENT_OFF);
        names_scan(p);
        names_stop(p);
        close_output(p);
        p->current = NULL;
        if (!run)
                return 0;
        n = (size_t) (run - p->runs) + 1;
        run->ended_mono = now(CLOCK_MONOTONIC);
        (void) unlinkat(session_env(p->session)->staging_fd, run->outname, 0);
        /* Not told to stop: did its target end, or did it stop early? The target's pidfd knows. */
        alive = !run->stop_sent && pid_probe_alive(&run->probe);
        pid_probe_close(&run->probe);
        judge_run(p, run, si, alive);
        run->early = alive && !p->stopping;
        if (run->outcome == RUN_FAILED && run->no_target && !run->stop_sent && !alive && run->probe_taken) {
                /* It found no PAM to read, and PAM has indeed exited since it started (a chunk's run as
                 * PAM was killed): not the sampler's failure. Its seconds are not in the coverage. */
                char why[sizeof(run->reason)];
                snprintf(why, sizeof(why), "%s", run->reason);
                snprintf(run->reason, sizeof(run->reason), "pid %d exited as %s started (%.200s)",
                         (int) run->target, p->backend->display, why);
                run->outcome = RUN_GONE;
                log_info("%s: %s run %zu: %s", session_id(p->session), p->backend->display, n, run->reason);
        } else if (!usable(run))
                p->failed_runs++;
        if (run->early)
                run_ended_early(p, run, n);
        else if (run->outcome != RUN_GONE)
                run_event(p, run, n);
        if (usable(run) && p->backend->convert)
                convert_start(p, run);

        if (p->stopping) {
                if (finished(p))
                        profiler_finish(p);
                return 0;
        }
        /* A rotation, or PAM came back with a new pid while the old run was ending. */
        next = p->next_target;
        p->next_target = 0;
        if (p->rotating || (next > 0 && next != run->target)) {
                p->rotating = false;
                p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
                if (session_target_pid(p->session) > 0)
                        profiler_run_start(p, session_target_pid(p->session));
        }
        return 0;
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Profiler *p = userdata;
        pid_t target = session_target_pid(p->session);

        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        if (p->stopping || p->current || target <= 0)
                return 0;
        if (target != p->restart_target) {
                /* PAM changed meanwhile: a run on the new one, as on its return. */
                profiler_run_start(p, target);
                return 0;
        }
        restart_note(&p->restart, now(CLOCK_MONOTONIC));
        p->restarting = true;
        profiler_run_start(p, target);
        p->restarting = false;
        return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Profiler *p = userdata;

        if (!p->current)
                return 0;
        p->current->killed = true;
        log_warning("%s: %s (pid %d) did not end within %gs of signal %d; killing it",
                    session_id(p->session), p->backend->display, (int) p->current->child,
                    (double) grace(p) / 1e6, p->backend->stop_signal);
        kill(p->current->child, SIGKILL);
        return 0;
}

/* Ask the running sampler to finish its file and exit; SIGKILL after its grace. */
static int on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Profiler *p = userdata;

        p->stop_timer = sd_event_source_disable_unref(p->stop_timer);
        profiler_run_stop(p);
        return 0;
}

static void profiler_run_stop(Profiler *p)
{
        usec_t ready;

        if (!p->current || p->kill_timer || p->stop_timer)
                return;
        /* A sampler told to stop before its handler is in place dies with no file: one just
         * (re)started gets RUN_MIN_LIFE first, as a chunk would (a restart makes that likely). */
        ready = p->current->started_mono + RUN_MIN_LIFE;
        if (now(CLOCK_MONOTONIC) < ready &&
            sd_event_add_time(session_event_loop(p->session), &p->stop_timer, CLOCK_MONOTONIC, ready,
                              10 * USEC_PER_MSEC, on_stop_timer, p) >= 0)
                return;
        names_scan(p);
        p->current->stop_sent = true;
        if (kill(p->current->child, p->backend->stop_signal) < 0 && errno != ESRCH)
                log_warning_errno(errno, "%s: cannot signal %s", session_id(p->session),
                                  p->backend->display);
        if (sd_event_add_time_relative(session_event_loop(p->session), &p->kill_timer, CLOCK_MONOTONIC,
                                       grace(p), 10 * USEC_PER_MSEC, on_kill_timer, p) < 0)
                kill(p->current->child, SIGKILL);
}

/* The current run has lived a whole chunk: end it; its exit starts the next. */
static int on_chunk_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Profiler *p = userdata;

        if (p->current && !p->stopping) {
                p->rotating = true;
                profiler_run_stop(p);
        }
        return 0;
}

/*
 * Each run's chunk counts from its own start: a sampler is never told to
 * stop while it starts up (a SIGINT before its handler is in place kills it
 * without a file), and a run that began late, on a PAM that came back, gets
 * its whole chunk.
 */
static void chunk_timer_arm(Profiler *p)
{
        usec_t chunk = session_env(p->session)->chunk;
        int r;

        if (chunk == 0 || p->capped)
                return;
        /* From the run's own start on the clock, not from sd_event_now(): that is
         * the time this loop iteration began, which may be well before the spawn. */
        usec_t deadline = p->current->started_mono + chunk;
        if (p->chunk_timer)
                r = sd_event_source_set_time(p->chunk_timer, deadline);
        else {
                usec_t accuracy = chunk / 20 < USEC_PER_SEC ? chunk / 20 : USEC_PER_SEC;
                r = sd_event_add_time(session_event_loop(p->session), &p->chunk_timer, CLOCK_MONOTONIC,
                                      deadline, accuracy, on_chunk_timer, p);
        }
        if (r >= 0)
                r = sd_event_source_set_enabled(p->chunk_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r,
                                  "%s: cannot time the next chunk; this run goes on until the session ends",
                                  session_id(p->session));
}

static char *join_argv(char **argv)
{
        size_t len = 1;
        char *s, *q;

        for (size_t i = 0; argv[i]; i++)
                len += strlen(argv[i]) + 1;
        s = q = malloc(len);
        if (!s)
                return NULL;
        for (size_t i = 0; argv[i]; i++)
                q += sprintf(q, "%s%s", i ? " " : "", argv[i]);
        *q = '\0';
        return s;
}

/* Names of run n's files in staging. */
static void run_names(Profiler *p, Run *run, size_t n)
{
        const char *id = session_id(p->session);

        profiler_staged_name(id, n, p->backend->output_suffix, run->raw, sizeof(run->raw));
        profiler_staged_name(id, n, "speedscope.json", run->staged, sizeof(run->staged));
        profiler_staged_name(id, n, "out", run->outname, sizeof(run->outname));
        if (p->backend->thread_names)
                profiler_staged_name(id, n, "threads", run->names, sizeof(run->names));
}

static void names_start(Profiler *p, Run *run)
{
        const SessionEnv *m = session_env(p->session);

        if (!run->names[0])
                return;
        if (thread_recorder_new(m->staging_fd, run->names, m->proc_fd, &p->names) < 0) {
                log_warning("%s: cannot record thread names for %s; its threads will be named by tid only",
                            session_id(p->session), p->backend->display);
                return;
        }
        thread_recorder_scan(p->names, run->target);
        (void) sd_event_add_time_relative(session_event_loop(p->session), &p->names_timer, CLOCK_MONOTONIC,
                                          NAMES_EVERY, USEC_PER_SEC / 10, on_names_timer, p);
}

static bool usable(const Run *r)
{
        return r->outcome == RUN_OK || r->outcome == RUN_PARTIAL;
}

/*
 * Whether one more run like the last would take the runs' files past
 * max_profile_mb (the merged file is about their sum; speedscope gives up
 * near 375 MB). Counted on the samplers' own files.
 */
static bool profile_cap_reached(const Profiler *p, unsigned cap_mb, uint64_t *ret_total)
{
        uint64_t total = 0, last = 0;

        for (size_t i = 0; i < p->n_runs; i++)
                if (usable(&p->runs[i])) {
                        total += p->runs[i].size;
                        last = p->runs[i].size;
                }
        *ret_total = total;
        return cap_mb > 0 && total + last > (uint64_t) cap_mb * 1024 * 1024;
}

static void profiler_run_start(Profiler *p, pid_t target)
{
        Session *s = p->session;
        const SessionEnv *m = session_env(s);
        const SessionOptions *o = session_options(s);
        _cleanup_free_ char *out_path = NULL, *log_path = NULL;
        char **argv = NULL;
        int fds[2] = { -1, -1 };
        uint64_t total;
        Run *run;
        int r;

        if (p->current) {
                p->next_target = target;
                return;
        }
        if (p->n_runs >= RUNS_MAX) {
                if (!p->runs_max)
                        session_event(s, "profiler-capped", target,
                                      "%s stopped: the session has %d runs, the most pamprofd keeps (each "
                                      "early stop or chunk is one); CPU and memory sampling go on",
                                      p->backend->display, RUNS_MAX);
                p->runs_max = true;
                return;
        }
        if (p->capped)
                return;
        if (profile_cap_reached(p, m->max_profile_mb, &total)) {
                p->capped = true;
                p->chunk_timer = sd_event_source_disable_unref(p->chunk_timer);
                session_event(
                        s, "profiler-capped", target,
                        "%s stopped: its %zu run(s) hold %.1f MB and one more would pass max_profile_mb "
                        "(%u MB); CPU and memory sampling go on",
                        p->backend->display, p->n_runs, (double) total / (1024 * 1024), m->max_profile_mb);
                return;
        }
        run = &p->runs[p->n_runs];
        *run = (Run){
                .owner = p, .target = target, .outcome = RUN_RUNNING, .conv_fd = -1, .probe.pidfd = -1
        };
        run_names(p, run, p->n_runs + 1);
        (void) unlinkat(m->staging_fd, run->raw, 0);
        (void) unlinkat(m->staging_fd, run->staged, 0);
        if (asprintf(&out_path, "%s/staging/%s", m->state_dir, run->raw) < 0 ||
            asprintf(&log_path, "%s/staging/%s", m->state_dir, run->outname) < 0)
                return;
        r = p->backend->build_argv(p->path,
                                   &(ProfilerRequest){
                                           .pid = target,
                                           .rate = o->rate,
                                           .idle = o->idle,
                                           .nonblocking = o->nonblocking,
                                           .native = o->native,
                                           .subprocesses = o->subprocesses,
                                           .gil = o->gil,
                                           .output = out_path,
                                   },
                                   &argv);
        if (r < 0)
                return;
        free(p->command);
        p->command = join_argv(argv);
        fds[1] = openat(m->staging_fd, run->outname,
                        O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        fds[0] = fds[1] < 0 ? -1 : openat(m->staging_fd, run->outname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fds[0] < 0) {
                if (fds[1] >= 0)
                        close(fds[1]);
                strv_free(argv);
                return;
        }
        /* Its identity now, to ask when the sampler ends whether this target still runs. */
        r = pid_probe_open(m->proc_fd, target, &run->probe);
        run->probe_taken = r >= 0;
        if (r == -ESRCH) {
                log_info("%s: pid %d is gone; no %s run on it", session_id(s), (int) target,
                         p->backend->display);
                close(fds[0]);
                close(fds[1]);
                strv_free(argv);
                return;
        }
        r = spawn_child(
                &(SpawnOptions){
                        .argv = argv,
                        .output_fd = fds[1],
                        .death_signal = p->backend->stop_signal,
                        .keep_caps = UINT64_C(1) << CAP_SYS_PTRACE,
                },
                &run->child);
        close(fds[1]);
        strv_free(argv);
        if (r < 0) {
                close(fds[0]);
                pid_probe_close(&run->probe);
                session_event(s, "profiler-failed", target, "cannot start %s: %s", p->backend->display,
                              strerror(-r));
                return;
        }
        p->output_fd = fds[0];
        run->started_real = now(CLOCK_REALTIME);
        run->started_mono = now(CLOCK_MONOTONIC);
        p->current = run;
        p->n_runs++;
        (void) sd_event_add_inotify(session_event_loop(s), &p->output_source, log_path, IN_MODIFY, on_output,
                                    p);
        r = sd_event_add_child(session_event_loop(s), &p->child_source, run->child, WEXITED, on_child_exit,
                               p);
        if (r < 0) {
                log_error_errno(r, "%s: cannot watch %s (pid %d); killing it", session_id(s),
                                p->backend->display, (int) run->child);
                kill(run->child, SIGKILL);
                (void) waitpid(run->child, NULL, 0);
                pid_probe_close(&run->probe);
                p->current = NULL;
                close_output(p);
                return;
        }
        names_start(p, run);
        chunk_timer_arm(p);
        if (p->restarting)
                /* its early-exit event said it comes; one event per restart keeps the record small */
                log_info("%s: %s run %zu (pid %d) restarted on pid %d", session_id(s), p->backend->display,
                         p->n_runs, (int) run->child, (int) target);
        else
                session_event(s, "profiler-start", target, "%s run %zu (pid %d) attached to pid %d",
                              p->backend->display, p->n_runs, (int) run->child, (int) target);
}

/* Copy (one run) or merge (several) the good runs into the output directory. */
static int profiler_publish(Profiler *p, size_t *ret_good)
{
        Session *s = p->session;
        const SessionEnv *m = session_env(s);
        MergeInput in[RUNS_MAX];
        _cleanup_close_ int out = -1;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < p->n_runs; i++) {
                if (!usable(&p->runs[i]))
                        continue;
                in[n].fd = openat(m->staging_fd, p->runs[i].staged, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                in[n].pid = p->runs[i].target;
                if (in[n].fd >= 0)
                        n++;
        }
        *ret_good = n;
        if (n == 0)
                return 0;
        snprintf(p->file, sizeof(p->file), "%s_profile.speedscope.json", session_id(s));
        r = create_file_at(session_dir_fd(s), p->file, session_file_uid(s), session_file_gid(s), &out);
        if (r >= 0) {
                if (n == 1) {
                        struct stat st;
                        off_t off = 0;
                        r = fstat(in[0].fd, &st) < 0 ? -errno : 0;
                        while (r >= 0 && off < st.st_size) {
                                ssize_t k = sendfile(out, in[0].fd, &off, (size_t) (st.st_size - off));
                                if (k <= 0)
                                        r = k < 0 ? -errno : -EIO;
                        }
                        p->facts.threads = p->threads = cJSON_CreateArray();
                        p->facts.sampler = p->backend->display;
                        if (r >= 0)
                                (void) profile_facts(in[0].fd, &p->facts);
                } else {
                        p->facts.threads = p->threads = cJSON_CreateArray();
                        p->facts.sampler = p->backend->display;
                        r = profile_merge(in, n, out, &p->facts);
                }
                if (r >= 0 && fsync(out) < 0)
                        r = -errno;
                if (r < 0)
                        unlinkat(session_dir_fd(s), p->file, 0);
        }
        for (size_t i = 0; i < n; i++)
                close(in[i].fd);
        if (r < 0) {
                p->file[0] = '\0';
                return r;
        }
        session_set_file(s, "profile", "profile.speedscope.json");
        for (size_t i = 0; i < p->n_runs; i++)
                unlink_run(p, &p->runs[i]);
        return 0;
}

static void profiler_finish(Profiler *p)
{
        const char *name = p->backend->display;
        const Run *partial = NULL;
        size_t good = 0, counted = 0;
        int r = profiler_publish(p, &good);

        p->chunk_timer = sd_event_source_disable_unref(p->chunk_timer);
        for (size_t i = 0; i < p->n_runs; i++) {
                if (p->runs[i].outcome == RUN_PARTIAL && !partial)
                        partial = &p->runs[i];
                counted += p->runs[i].outcome != RUN_GONE;
        }
        if (r < 0) {
                snprintf(p->result, sizeof(p->result), "missing");
                snprintf(p->result_reason, sizeof(p->result_reason),
                         "the profile could not be written to the output directory: %s", strerror(-r));
        } else if (good == 0) {
                const Run *last = p->n_runs ? &p->runs[p->n_runs - 1] : NULL;
                /* A run the stop cut short as it started says less than the failure before it. */
                for (size_t i = p->n_runs; i > 0 && last && last->stop_sent; i--)
                        if (!p->runs[i - 1].stop_sent) {
                                last = &p->runs[i - 1];
                                break;
                        }
                snprintf(p->result, sizeof(p->result),
                         last && last->outcome == RUN_LOST ? "lost" : "missing");
                if (last)
                        snprintf(p->result_reason, sizeof(p->result_reason), "%s", last->reason);
                else
                        snprintf(p->result_reason, sizeof(p->result_reason),
                                 "PAM was not running while the session was, so %s never ran", name);
        } else if (good < counted) {
                snprintf(p->result, sizeof(p->result), "partial");
                snprintf(p->result_reason, sizeof(p->result_reason), "%zu of %zu %s runs left a usable file",
                         good, counted, name);
        } else if (partial) {
                snprintf(p->result, sizeof(p->result), "partial");
                snprintf(p->result_reason, sizeof(p->result_reason), "%s run %zu: %s", name,
                         (size_t) (partial - p->runs) + 1, partial->reason);
        } else
                snprintf(p->result, sizeof(p->result), "ok");
        if (strcmp(p->result, "ok") != 0)
                log_warning("%s: profile %s: %s", session_id(p->session), p->result, p->result_reason);
        session_part_stopped(p->session, p);
}

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
        else if (finished(p))
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
        if (p->current) {
                /* The daemon is going away mid-run: the sampler still gets to finish its file. */
                kill(p->current->child, p->backend->stop_signal);
                pid_probe_close(&p->current->probe);
        }
        for (size_t i = 0; i < p->n_runs; i++)
                if (p->runs[i].conv_pid > 0) {
                        /* The staged output stays; recovery converts it. */
                        kill(p->runs[i].conv_pid, SIGKILL);
                        (void) waitpid(p->runs[i].conv_pid, NULL, 0);
                        convert_done(&p->runs[i]);
                }
        sd_event_source_disable_unref(p->child_source);
        sd_event_source_disable_unref(p->kill_timer);
        sd_event_source_disable_unref(p->chunk_timer);
        sd_event_source_disable_unref(p->restart_timer);
        sd_event_source_disable_unref(p->stop_timer);
        names_stop(p);
        close_output(p);
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
        char path[64], buf[1024];
        unsigned long long ut, st;
        size_t len;
        const char *q;
        double elapsed;

        if (!r)
                return NAN;
        snprintf(path, sizeof(path), "%d/stat", (int) r->child);
        elapsed = (double) (now(CLOCK_MONOTONIC) - r->started_mono) / 1e6;
        if (elapsed < 0.5 ||
            proc_read_file(session_env(p->session)->proc_fd, path, buf, sizeof(buf), &len) < 0)
                return NAN;
        q = strrchr(buf, ')');
        /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (!q || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return NAN;
        return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK) / elapsed * 100;
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
        if (r->conv_pid > 0)
                cJSON_AddStringToObject(j, "conversion", "running");
        else if (r->converted) {
                cJSON *c = cJSON_AddObjectToObject(j, "conversion");
                cJSON_AddNumberToObject(c, "samples", (double) r->conv.samples);
                cJSON_AddNumberToObject(c, "bytes_used", (double) r->conv.bytes_used);
                cJSON_AddNumberToObject(c, "bytes", (double) r->conv.bytes);
                cJSON_AddBoolToObject(c, "cut", r->conv.cut);
                cJSON_AddNumberToObject(c, "bad_lines", (double) r->conv.bad_lines);
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
                if (p->runs[i].outcome == RUN_RUNNING || usable(&p->runs[i]))
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
                                p->result[0]               ? p->result
                                        : p->current       ? "running"
                                        : p->restart_timer ? "restarting"
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
                if (p->threads)
                        cJSON_AddItemReferenceToObject(o, "threads", p->threads);
        }
        describe_coverage(p, o);
        runs = cJSON_AddArrayToObject(o, "runs");
        for (size_t i = 0; runs && i < p->n_runs; i++)
                describe_run(runs, s, &p->runs[i]);
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
