/* SPDX-License-Identifier: MIT */
/* The manager's optional components, started with it: the metrics file and the flight recorder. */
#include "manager.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include "build-config.h"
#include "child.h"
#include "cleanup.h"
#include "commands.h"
#include "control.h"
#include "fs-util.h"
#include "log.h"
#include "metrics.h"
#include "recorder.h"
#include "recovery.h"
#include "retention.h"
#include "session.h"
#include "watcher.h"

static void metrics_state(void *userdata, MetricsState *ret)
{
        Manager *m = userdata;

        *ret = (MetricsState){ .pam = m->session && session_target_pid(m->session) > 0
                                       ? session_target_pid(m->session)
                                       : watcher_pid(m->watcher),
                               .profiler = m->session ? session_profiler_pid(m->session) : 0,
                               .session = m->session != NULL,
                               .pam_restarts = watcher_restarts(m->watcher) };
}

/* pamprofd.prom, when metrics_dir is set; without the directory the daemon runs on, and says so. */
void manager_start_metrics(Manager *m)
{
        int r;

        if (!m->config.metrics_dir[0])
                return;
        r = metrics_new(m->event,
                        &(MetricsOptions){ .dir = m->config.metrics_dir,
                                           .output_dir = m->config.output_dir,
                                           .interval = m->config.metrics_interval,
                                           .proc_fd = m->proc_fd,
                                           .records_fd = m->records_fd },
                        metrics_state, m, &m->metrics);
        if (r < 0) {
                log_warning_errno(r, "Cannot write metrics into %s (metrics_dir); going on without them",
                                  m->config.metrics_dir);
                return;
        }
        metrics_sessions_interrupted(m->metrics, recovery_interrupted(m->recovery));
        metrics_set_recorder(m->metrics, m->recorder != NULL);
        metrics_update(m->metrics);
}

/* A capture's session: the daemon's env and its output directory. */
static int recorder_prepare(void *userdata, SessionEnv *env, int *ret_dir_fd, const char **ret_path)
{
        Manager *m = userdata;
        int r = mkdir_parents(m->config.output_dir, 0755), fd;

        manager_session_env(m, env);
        if (r < 0)
                return log_error_errno(r, "Flight recorder: cannot create %s", m->config.output_dir);
        fd = open(m->config.output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Flight recorder: cannot open %s", m->config.output_dir);
        *ret_dir_fd = fd;
        *ret_path = m->config.output_dir;
        return 0;
}

static void on_captured(void *userdata, const char *trigger, SessionState state)
{
        Manager *m = userdata;

        if (state == SESSION_CAPTURED) /* a failed capture is a failed session, not a capture */
                metrics_capture(m->metrics, trigger);

        manager_apply_retention(m);
        manager_update_status(m);
}

void manager_start_recorder(Manager *m)
{
        const Config *c = &m->config;
        int r;

        if (!c->recorder)
                return;
        r = recorder_new(
                m->event,
                &(RecorderOptions){ .proc_fd = m->proc_fd,
                                    .window = c->recorder_window,
                                    .after = c->recorder_after,
                                    .rate = c->recorder_rate,
                                    .austin_path = c->austin_path,
                                    .threads = c->threads,
                                    .triggers = { .cpu_percent = c->recorder_cpu_percent,
                                                  .cpu_samples = c->recorder_cpu_samples,
                                                  .cpu_rearm_percent = c->recorder_cpu_rearm_percent,
                                                  .rss_mb = c->recorder_rss_mb,
                                                  .threads_jump = c->recorder_threads_jump,
                                                  .on_exit = c->recorder_on_exit,
                                                  .window = c->recorder_window,
                                                  .cooldown = c->recorder_cooldown,
                                                  .max_per_hour = c->recorder_max_per_hour } },
                &(RecorderCallbacks){ .prepare = recorder_prepare, .captured = on_captured, .userdata = m },
                &m->recorder);
        if (r < 0) {
                log_error_errno(r, "Cannot start the flight recorder; going on without it");
                return;
        }
        metrics_set_recorder(m->metrics, true);
        log_info("Flight recorder on: %gs before a trigger, %gs after, stacks at %u Hz",
                 (double) c->recorder_window / 1e6, (double) c->recorder_after / 1e6, c->recorder_rate);
        if (watcher_pid(m->watcher) > 0)
                recorder_target_found(m->recorder, watcher_pid(m->watcher));
}
