/* SPDX-License-Identifier: MIT */
/*
 * One run of the profiler part's sampler (session-parts.h): its spawn into
 * the staging directory with its output followed in a file, the stop ladder
 * (the backend's stop signal, its grace, SIGKILL), the judge of what it left,
 * the chunk rotation, and the restart of a sampler that ended early.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "session-parts.h"
#include "spawn.h"

#define NAMES_EVERY USEC_PER_SEC
/* The least a run lives before it is told to stop (py-spy and Austin set their SIGINT handler first). */
#define RUN_MIN_LIFE (500 * USEC_PER_MSEC)

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
                .last_line = profiler_output_last_line(p),
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
        RestartDecision d = restart_decide(&p->restart, run->ended_mono, run_usable(run));
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
        if (run_usable(run)) {
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
        profiler_output_close(p);
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
        } else if (!run_usable(run))
                p->failed_runs++;
        if (run->early)
                run_ended_early(p, run, n);
        else if (run->outcome != RUN_GONE)
                run_event(p, run, n);
        if (run_usable(run) && p->backend->convert)
                profiler_convert(p, run);

        if (p->stopping) {
                if (profiler_finished(p))
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

static int on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Profiler *p = userdata;

        p->stop_timer = sd_event_source_disable_unref(p->stop_timer);
        profiler_run_stop(p);
        return 0;
}

/* Ask the running sampler to finish its file and exit; SIGKILL after its grace. */
void profiler_run_stop(Profiler *p)
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

bool run_usable(const Run *r)
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
                if (run_usable(&p->runs[i])) {
                        total += p->runs[i].size;
                        last = p->runs[i].size;
                }
        *ret_total = total;
        return cap_mb > 0 && total + last > (uint64_t) cap_mb * 1024 * 1024;
}

/* Whether another run may start: the session's runs and their files are bounded. */
static bool run_may_start(Profiler *p, pid_t target)
{
        Session *s = p->session;
        const SessionEnv *m = session_env(s);
        uint64_t total;

        if (p->n_runs >= RUNS_MAX) {
                if (!p->runs_max)
                        session_event(s, "profiler-capped", target,
                                      "%s stopped: the session has %d runs, the most pamprofd keeps (each "
                                      "early stop or chunk is one); CPU and memory sampling go on",
                                      p->backend->display, RUNS_MAX);
                p->runs_max = true;
                return false;
        }
        if (p->capped)
                return false;
        if (profile_cap_reached(p, m->max_profile_mb, &total)) {
                p->capped = true;
                p->chunk_timer = sd_event_source_disable_unref(p->chunk_timer);
                session_event(
                        s, "profiler-capped", target,
                        "%s stopped: its %zu run(s) hold %.1f MB and one more would pass max_profile_mb "
                        "(%u MB); CPU and memory sampling go on",
                        p->backend->display, p->n_runs, (double) total / (1024 * 1024), m->max_profile_mb);
                return false;
        }
        return true;
}

/* The sampler on run->target, writing out_path; its output into a file, whose reading end is returned. */
static int run_spawn(Profiler *p, Run *run, const char *out_path, int *ret_output_fd)
{
        Session *s = p->session;
        const SessionEnv *m = session_env(s);
        const SessionOptions *o = session_options(s);
        char **argv = NULL;
        int fds[2] = { -1, -1 }, r;

        r = p->backend->build_argv(p->path,
                                   &(ProfilerRequest){
                                           .pid = run->target,
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
                return r;
        free(p->command);
        p->command = join_argv(argv);
        fds[1] = openat(m->staging_fd, run->outname,
                        O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        fds[0] = fds[1] < 0 ? -1 : openat(m->staging_fd, run->outname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fds[0] < 0) {
                if (fds[1] >= 0)
                        close(fds[1]);
                strv_free(argv);
                return -EIO;
        }
        /* Its identity now, to ask when the sampler ends whether this target still runs. */
        r = pid_probe_open(m->proc_fd, run->target, &run->probe);
        run->probe_taken = r >= 0;
        if (r == -ESRCH) {
                log_info("%s: pid %d is gone; no %s run on it", session_id(s), (int) run->target,
                         p->backend->display);
                close(fds[0]);
                close(fds[1]);
                strv_free(argv);
                return r;
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
                session_event(s, "profiler-failed", run->target, "cannot start %s: %s", p->backend->display,
                              strerror(-r));
                return r;
        }
        *ret_output_fd = fds[0];
        return 0;
}

/* The run has started: follow its output, its exit, its threads' names and its chunk. */
static void run_watch(Profiler *p, Run *run, const char *log_path)
{
        Session *s = p->session;
        int r;

        profiler_output_follow(p, log_path);
        r = sd_event_add_child(session_event_loop(s), &p->child_source, run->child, WEXITED, on_child_exit,
                               p);
        if (r < 0) {
                log_error_errno(r, "%s: cannot watch %s (pid %d); killing it", session_id(s),
                                p->backend->display, (int) run->child);
                kill(run->child, SIGKILL);
                (void) waitpid(run->child, NULL, 0);
                pid_probe_close(&run->probe);
                p->current = NULL;
                profiler_output_close(p);
                return;
        }
        names_start(p, run);
        chunk_timer_arm(p);
        if (p->restarting)
                /* its early-exit event said it comes; one event per restart keeps the record small */
                log_info("%s: %s run %zu (pid %d) restarted on pid %d", session_id(s), p->backend->display,
                         p->n_runs, (int) run->child, (int) run->target);
        else
                session_event(s, "profiler-start", run->target, "%s run %zu (pid %d) attached to pid %d",
                              p->backend->display, p->n_runs, (int) run->child, (int) run->target);
}

void profiler_run_start(Profiler *p, pid_t target)
{
        const SessionEnv *m = session_env(p->session);
        _cleanup_free_ char *out_path = NULL, *log_path = NULL;
        Run *run;
        int output_fd = -1;

        if (p->current) {
                p->next_target = target;
                return;
        }
        if (!run_may_start(p, target))
                return;
        run = &p->runs[p->n_runs];
        *run = (Run){ .owner = p, .target = target, .outcome = RUN_RUNNING, .probe.pidfd = -1 };
        run_names(p, run, p->n_runs + 1);
        (void) unlinkat(m->staging_fd, run->raw, 0);
        (void) unlinkat(m->staging_fd, run->staged, 0);
        if (asprintf(&out_path, "%s/staging/%s", m->state_dir, run->raw) < 0 ||
            asprintf(&log_path, "%s/staging/%s", m->state_dir, run->outname) < 0)
                return;
        if (run_spawn(p, run, out_path, &output_fd) < 0)
                return;
        p->output_fd = output_fd;
        run->started_real = now(CLOCK_REALTIME);
        run->started_mono = now(CLOCK_MONOTONIC);
        p->current = run;
        p->n_runs++;
        run_watch(p, run, log_path);
}

void profiler_runs_free(Profiler *p)
{
        if (p->current) {
                /* The daemon is going away mid-run: the sampler still gets to finish its file. */
                kill(p->current->child, p->backend->stop_signal);
                pid_probe_close(&p->current->probe);
        }
        sd_event_source_disable_unref(p->child_source);
        sd_event_source_disable_unref(p->kill_timer);
        sd_event_source_disable_unref(p->chunk_timer);
        sd_event_source_disable_unref(p->restart_timer);
        sd_event_source_disable_unref(p->stop_timer);
        names_stop(p);
        profiler_output_close(p);
}
