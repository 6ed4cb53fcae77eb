/* SPDX-License-Identifier: MIT */
#include "recorder-internal.h"

#include <errno.h>
#include <stdarg.h>
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
#include "spawn.h"

#define RESTART_MIN USEC_PER_SEC
#define RESTART_MAX (60 * USEC_PER_SEC)
#define CAP_SYS_PTRACE_BIT (1ULL << 19)

/*
 * The recorder's Austin: started on PAM, streaming into the aggregator's socket, restarted with
 * a back-off when it ends while PAM lives, paused while a session profiles PAM. Every stretch
 * it did not cover is a gap, named in the captures it falls in.
 */

void recorder_gap_open(Recorder *r, const char *fmt, ...)
{
        Gap *g;
        va_list ap;

        if (r->n_gaps > 0 && r->gaps[r->n_gaps - 1].end == 0)
                return; /* one is open */
        if (r->n_gaps == GAPS_MAX) {
                memmove(r->gaps, r->gaps + 1, (GAPS_MAX - 1) * sizeof(Gap));
                r->n_gaps--;
        }
        g = &r->gaps[r->n_gaps++];
        *g = (Gap){ .start = now(CLOCK_MONOTONIC) };
        va_start(ap, fmt);
        vsnprintf(g->why, sizeof(g->why), fmt, ap);
        va_end(ap);
}

void recorder_gap_close(Recorder *r)
{
        if (r->n_gaps > 0 && r->gaps[r->n_gaps - 1].end == 0)
                r->gaps[r->n_gaps - 1].end = now(CLOCK_MONOTONIC);
}

usec_t recorder_gaps(const Recorder *r, usec_t t0, usec_t t1, char *why, size_t size)
{
        usec_t sum = 0, t = now(CLOCK_MONOTONIC);

        if (size)
                why[0] = '\0';
        for (size_t i = 0; i < r->n_gaps; i++) {
                usec_t a = r->gaps[i].start > t0 ? r->gaps[i].start : t0;
                usec_t b = r->gaps[i].end ? r->gaps[i].end : t;
                if (b > t1)
                        b = t1;
                if (b <= a)
                        continue;
                sum += b - a;
                if (size && !why[0])
                        snprintf(why, size, "%s", r->gaps[i].why);
        }
        return sum;
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
        recorder_austin_start(userdata);
        return 0;
}

static int on_austin_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        Recorder *r = userdata;
        usec_t ran = now(CLOCK_MONOTONIC) - r->austin_started, delay;
        char how[64];

        if (si->si_code == CLD_EXITED)
                snprintf(how, sizeof(how), "exited with status %d", si->si_status);
        else
                snprintf(how, sizeof(how), "was killed by signal %d (%s)", si->si_status,
                         strsignal(si->si_status));
        r->austin_src = sd_event_source_disable_unref(r->austin_src);
        r->austin = 0;
        if (r->paused || r->pam == 0)
                return 0; /* asked for, or PAM went with it */
        recorder_gap_open(r, "Austin %s", how);
        r->austin_failures = ran > RESTART_MAX ? 1 : r->austin_failures + 1;
        delay = RESTART_MIN << (r->austin_failures > 6 ? 6 : r->austin_failures - 1);
        if (delay > RESTART_MAX)
                delay = RESTART_MAX;
        log_warning("Flight recorder: Austin (pid %d) %s after %.1fs while PAM runs; restarting in %.0fs",
                    (int) si->si_pid, how, (double) ran / 1e6, (double) delay / 1e6);
        if (!r->restart_timer)
                (void) sd_event_add_time_relative(r->event, &r->restart_timer, CLOCK_MONOTONIC, delay,
                                                  USEC_PER_MSEC * 10, on_restart, r);
        else {
                (void) sd_event_source_set_time_relative(r->restart_timer, delay);
                (void) sd_event_source_set_enabled(r->restart_timer, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int austin_argv(Recorder *r, char ***ret)
{
        char **v = calloc(10, sizeof(char *));
        int q = 0;

        if (!v)
                return -ENOMEM;
        q |= asprintf(&v[0], "%s", r->austin_path) < 0;
        q |= !(v[1] = strdup("-P"));
        q |= !(v[2] = strdup("-i"));
        q |= asprintf(&v[3], "%u", 1000000u / r->o.rate) < 0;
        q |= !(v[4] = strdup("-t"));
        q |= !(v[5] = strdup("1000"));
        q |= !(v[6] = strdup("-p"));
        q |= asprintf(&v[7], "%d", (int) r->pam) < 0;
        if (q) {
                strv_free(v);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}

void recorder_austin_start(Recorder *r)
{
        _cleanup_free_ char *looked = NULL;
        char **argv = NULL;
        pid_t pid;
        int q;

        if (r->austin || r->paused || r->pam == 0 || r->o.rate == 0 || !r->agg)
                return;
        if (!r->austin_path) {
                q = profiler_find(profiler_backend_find("austin"), r->austin_path_conf, r->o.proc_fd, r->pam,
                                  &r->austin_path, &looked);
                if (q < 0) {
                        snprintf(r->austin_problem, sizeof(r->austin_problem),
                                 "Austin was not found (looked at %s): the recorder keeps rows only",
                                 looked ? looked : "PATH");
                        log_warning("Flight recorder: %s", r->austin_problem);
                        recorder_gap_open(r, "%s", r->austin_problem);
                        return;
                }
        }
        /* A line a killed Austin cut short ends here, not inside the next one's first. */
        (void) send(aggregator_stream_fd(r->agg), "\n", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        q = austin_argv(r, &argv);
        if (q >= 0)
                q = spawn_child(&(SpawnOptions){ .argv = argv,
                                                 .output_fd = aggregator_stream_fd(r->agg),
                                                 .death_signal = SIGTERM,
                                                 .keep_caps = CAP_SYS_PTRACE_BIT },
                                &pid);
        strv_free(argv);
        if (q >= 0)
                q = sd_event_add_child(r->event, &r->austin_src, pid, WEXITED, on_austin_exit, r);
        if (q < 0) {
                snprintf(r->austin_problem, sizeof(r->austin_problem), "cannot start Austin: %s",
                         strerror(-q));
                log_warning("Flight recorder: %s", r->austin_problem);
                recorder_gap_open(r, "%s", r->austin_problem);
                return;
        }
        r->austin_problem[0] = '\0';
        r->austin = pid;
        r->austin_started = now(CLOCK_MONOTONIC);
        recorder_gap_close(r);
        log_info("Flight recorder: Austin (pid %d) samples PAM (pid %d) at %u Hz", (int) pid, (int) r->pam,
                 r->o.rate);
}

void recorder_austin_stop(Recorder *r)
{
        r->restart_timer = sd_event_source_disable_unref(r->restart_timer);
        if (r->austin > 0) {
                (void) kill(r->austin, SIGTERM);
                /* Reaped by its child source, which knows not to restart it. */
        }
}

void recorder_on_agg_gone(void *userdata, const char *why)
{
        Recorder *r = userdata;

        log_warning(
                "Flight recorder: the stack aggregator ended (%s); the stacks held are lost, starting another",
                why);
        r->agg = aggregator_free(r->agg);
        recorder_austin_stop(r);
        recorder_gap_open(r, "the stack aggregator ended (%s)", why);
        if (aggregator_start(r->event, (unsigned) ((r->o.window + r->o.after) / USEC_PER_SEC) + 8,
                             recorder_on_agg_gone, r, &r->agg) < 0)
                r->agg = NULL;
}
