/* SPDX-License-Identifier: MIT */
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

int manager_new(const Config *config, const ConfigSource *source, Manager **ret)
{
        Manager *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        m->config = *config;
        m->source = source;
        m->proc_fd = m->state_fd = m->records_fd = m->staging_fd = m->upload_fd = -1;
        m->started_mono = now(CLOCK_MONOTONIC);
        r = sd_event_default(&m->event);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        commands_cancel_pending(m, NULL);
        deletes_cancel(m);
        session_free(m->session);
        session_free(m->finished);
        sd_event_source_disable_unref(m->reap_source);
        sd_event_source_disable_unref(m->status_timer);
        control_free(m->control);
        recovery_free(m->recovery);
        retention_free(m->retention);
        child_free(m->group_lookup);
        free(m->group_old_name);
        watcher_free(m->watcher);
        metrics_free(m->metrics);
        recorder_free(m->recorder);
        if (m->proc_fd >= 0)
                close(m->proc_fd);
        if (m->state_fd >= 0)
                close(m->state_fd);
        if (m->records_fd >= 0)
                close(m->records_fd);
        if (m->staging_fd >= 0)
                close(m->staging_fd);
        if (m->upload_fd >= 0)
                close(m->upload_fd);
        sd_event_unref(m->event);
        config_done(&m->config);
        free(m);
        return NULL;
}

void manager_update_status(Manager *m)
{
        char status[256], dur[32];
        pid_t pid = watcher_pid(m->watcher);

        if (m->session) {
                char extra[96];
                session_status_words(m->session, extra, sizeof(extra));
                format_duration(now(CLOCK_MONOTONIC) - session_start_mono(m->session), dur, sizeof(dur));
                snprintf(status, sizeof(status), "recording %s for %s, PAM pid %d%s",
                         session_options(m->session)->scenario, dur, (int) session_target_pid(m->session),
                         extra);
        } else if (m->pending)
                snprintf(status, sizeof(status), "waiting for PAM to start a session");
        else if (pid > 0) {
                format_duration(now(CLOCK_MONOTONIC) - watcher_since(m->watcher), dur, sizeof(dur));
                snprintf(status, sizeof(status), "PAM pid %d seen for %s; idle", (int) pid, dur);
        } else
                snprintf(status, sizeof(status), "waiting for PAM");
        if (m->recorder) {
                char words[128];
                size_t n = strlen(status);
                recorder_status_words(m->recorder, words, sizeof(words));
                snprintf(status + n, sizeof(status) - n, "; %s", words);
        }
        (void) sd_notifyf(false, "STATUS=%s", status);
        /* Refreshed while recording only: idle, the daemon does not wake up for this. */
        if (m->status_timer && m->session) {
                sd_event_source_set_time_relative(m->status_timer, 10 * USEC_PER_SEC);
                sd_event_source_set_enabled(m->status_timer, SD_EVENT_ONESHOT);
        }
}

static int on_reap_session(sd_event_source *src, void *userdata)
{
        Manager *m = userdata;

        m->finished = session_free(m->finished);
        return 0;
}

/* The store's retention, with the running session (if any) kept. */
void manager_apply_retention(Manager *m)
{
        if (retention_run(&m->retention, m->event, m->records_fd, m->session ? session_id(m->session) : NULL,
                          m->config.keep_sessions, m->config.keep_mb) < 0)
                log_warning("Retention: out of memory; the oldest sessions stay for now");
}

static void on_session_changed(Session *s, void *userdata)
{
        Manager *m = userdata;

        manager_update_status(m);
        metrics_update(m->metrics); /* at every sample while a session runs */
}

static void on_session_finished(Session *s, void *userdata)
{
        Manager *m = userdata;

        if (m->session == s)
                m->session = NULL;
        if (m->recorder)
                recorder_resume(m->recorder); /* the session's profiler is done with PAM */
        /* Not from inside its own callbacks: it is freed once they have unwound. */
        session_free(m->finished);
        m->finished = s;
        if (!m->reap_source && sd_event_add_defer(m->event, &m->reap_source, on_reap_session, m) < 0)
                log_warning("Cannot schedule the release of session %s; it is freed at exit", session_id(s));
        else if (m->reap_source)
                sd_event_source_set_enabled(m->reap_source, SD_EVENT_ONESHOT);
        manager_update_status(m);
        metrics_session_ended(m->metrics, session_state_to_string(session_state(s)));
        if (m->exiting)
                sd_event_exit(m->event, 0);
        else
                manager_apply_retention(m);
}

const SessionOwner *manager_session_owner(Manager *m)
{
        m->session_owner = (SessionOwner){ .finished = on_session_finished,
                                           .changed = on_session_changed,
                                           .userdata = m };
        return &m->session_owner;
}

static void on_found(void *userdata, pid_t pid)
{
        Manager *m = userdata;

        metrics_update(m->metrics);
        if (m->recorder)
                recorder_target_found(m->recorder, pid);
        if (!m->watcher)
                return; /* found during start-up: the status follows READY=1 */
        if (m->session)
                session_target_found(m->session, pid);
        else if (m->pending)
                commands_target_found(m);
        manager_update_status(m);
}

static void on_lost(void *userdata, pid_t pid)
{
        Manager *m = userdata;

        if (m->session)
                session_target_lost(m->session, pid);
        if (m->recorder)
                recorder_target_lost(m->recorder, pid);
        manager_update_status(m);
        metrics_update(m->metrics);
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        if (m->exiting) {
                log_warning("Second %s: exiting without waiting for the session",
                            strsignal((int) si->ssi_signo));
                return sd_event_exit(m->event, 0);
        }
        m->exiting = true;
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping");
        log_info("Received %s; stopping", strsignal((int) si->ssi_signo));
        commands_cancel_pending(m, "pamprofd is shutting down.");
        if (!m->session)
                return sd_event_exit(m->event, 0);
        session_stop(m->session, "pamprofd was stopped", NULL, NULL);
        return 0;
}

/* Keys that name resources opened at start: a reload keeps the old value and says so. */
static void keep_fixed(Manager *m, Config *n, char **field_new, char *const *field_old, const char *key)
{
        if (strcmp(*field_new, *field_old) != 0)
                log_warning("Reload: %s changed to %s; that takes a restart (systemctl restart pamprofd)",
                            key, *field_new);
        free(*field_new);
        *field_new = strdup(*field_old);
}

/* The recorder takes its options at start (its rings are sized by them): a reload that changes
 * a recorder key says it takes a restart, and names the keys. */
static void warn_recorder_keys(const Config *o, const Config *n)
{
        char changed[256] = "";
        size_t len = 0;
#define CHANGED(f)                                 \
        if (o->f != n->f && len < sizeof(changed)) \
        len += (size_t) snprintf(changed + len, sizeof(changed) - len, "%s%s", len ? ", " : "", #f)
        CHANGED(recorder);
        CHANGED(recorder_window);
        CHANGED(recorder_after);
        CHANGED(recorder_rate);
        CHANGED(recorder_cpu_percent);
        CHANGED(recorder_cpu_samples);
        CHANGED(recorder_cpu_rearm_percent);
        CHANGED(recorder_rss_mb);
        CHANGED(recorder_threads_jump);
        CHANGED(recorder_on_exit);
        CHANGED(recorder_cooldown);
        CHANGED(recorder_max_per_hour);
#undef CHANGED
        if (changed[0])
                log_warning("Reload: %s changed; the flight recorder keeps its settings until a restart "
                            "(systemctl restart pamprofd)",
                            changed);
}

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;
        WatcherCallbacks cb = { .found = on_found, .lost = on_lost, .userdata = m };
        bool rewatch;
        Config n;

        (void) sd_notifyf(false,
                          "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading the configuration",
                          now(CLOCK_MONOTONIC));
        if (config_load_source(m->source, &n) < 0) {
                log_error("Reload failed; the running configuration is kept");
                (void) sd_notify(false, "READY=1");
                manager_update_status(m);
                return 0;
        }
        keep_fixed(m, &n, &n.socket, &m->config.socket, "socket");
        keep_fixed(m, &n, &n.state_dir, &m->config.state_dir, "state_dir");
        keep_fixed(m, &n, &n.proc_root, &m->config.proc_root, "proc_root");
        keep_fixed(m, &n, &n.metrics_dir, &m->config.metrics_dir, "metrics_dir");
        warn_recorder_keys(&m->config, &n);
        rewatch = strcmp(n.target_match, m->config.target_match) != 0 ||
                n.scan_interval != m->config.scan_interval ||
                strcmp(n.target_unit, m->config.target_unit) != 0;
        {
                _cleanup_free_ char *old_group = strdup(m->config.allowed_group);
                config_done(&m->config);
                m->config = n;
                manager_resolve_group_async(m, old_group);
        }
        if (rewatch) {
                Watcher *w = NULL;
                if ((m->config.target_unit[0]
                             ? watcher_new_unit(m->event, m->proc_fd, m->config.target_unit, &cb, &w)
                             : watcher_new(m->event, m->proc_fd, m->config.target_match,
                                           m->config.scan_interval, &cb, &w)) >= 0) {
                        watcher_free(m->watcher);
                        m->watcher = w;
                } else
                        log_error("Reload: cannot watch for \"%s\"; still following the old match",
                                  m->config.target_match);
        }
        metrics_set_interval(m->metrics, m->config.metrics_interval);
        log_info("Configuration reloaded%s",
                 m->session ? "; the running session goes on with its options" : "");
        (void) sd_notify(false, "READY=1");
        manager_update_status(m);
        return 0;
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        manager_update_status(userdata);
        return 0;
}

static int open_dirs(Manager *m)
{
        int r;

        m->proc_fd = open(m->config.proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->proc_fd < 0)
                return log_error_errno(errno, "Cannot open proc root %s", m->config.proc_root);
        r = mkdir_parents(m->config.state_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create state directory %s", m->config.state_dir);
        m->state_fd = open(m->config.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->state_fd < 0)
                return log_error_errno(errno, "Cannot open state directory %s", m->config.state_dir);
        if (mkdirat(m->state_fd, "sessions", 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s/sessions", m->config.state_dir);
        m->records_fd = openat(m->state_fd, "sessions", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (m->records_fd < 0)
                return log_error_errno(errno, "Cannot open %s/sessions", m->config.state_dir);
        if (mkdirat(m->state_fd, "staging", 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s/staging", m->config.state_dir);
        m->staging_fd = openat(m->state_fd, "staging", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (m->staging_fd < 0)
                return log_error_errno(errno, "Cannot open %s/staging", m->config.state_dir);
        return 0;
}

/* A directory of the spool, group-writable: pamprofd-upload runs as another user in this group. */
static int spool_dir(int at, const char *name)
{
        int fd;

        if (mkdirat(at, name, 0770) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0770) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int manager_upload_fd(Manager *m)
{
        int fd, r;

        if (!m->config.pyroscope_url[0] || m->upload_fd >= 0)
                return m->config.pyroscope_url[0] ? m->upload_fd : -1;
        fd = spool_dir(m->state_fd, "upload");
        r = fd >= 0 ? spool_dir(fd, "rejected") : fd;
        if (r < 0) {
                log_error_errno(r,
                                "Cannot create the upload spool %s/upload; profiles are not spooled for %s",
                                m->config.state_dir, m->config.pyroscope_url);
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        close(r);
        return m->upload_fd = fd;
}

static int listen_fd_from_systemd(void)
{
        int n = sd_listen_fds(true);

        if (n <= 0)
                return -1;
        if (n > 1)
                log_warning("systemd passed %d sockets; using the first", n);
        if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
                log_error(
                        "The socket systemd passed is not a listening SOCK_SEQPACKET Unix socket; ignoring it");
                return -1;
        }
        log_info("Using the control socket passed by systemd");
        return SD_LISTEN_FDS_START;
}

/* The control socket hands every validated request to the manager's command face. */
static void on_request(void *userdata, Connection *c, const Request *req, int dir_fd)
{
        commands_dispatch(userdata, c, req, dir_fd);
}

static void on_disconnected(void *userdata, Connection *c)
{
        commands_forget_connection(userdata, c);
}

static const ControlOps control_ops = { .request = on_request, .disconnected = on_disconnected };

void manager_session_env(Manager *m, SessionEnv *ret)
{
        *ret = (SessionEnv){ .event = m->event,
                             .proc_fd = m->proc_fd,
                             .staging_fd = m->staging_fd,
                             .records_fd = m->records_fd,
                             .state_dir = m->config.state_dir,
                             .target_match = m->config.target_match,
                             .watcher = m->watcher,
                             .profiler_path = m->config.austin_path,
                             .stop_timeout = m->config.stop_timeout,
                             .chunk = m->config.chunk,
                             .pss_interval = m->config.pss_interval,
                             .max_profile_mb = m->config.max_profile_mb,
                             .min_free_mb = m->config.min_free_mb,
                             .threads = m->config.threads,
                             .upload = manager_upload_fd(m) >= 0,
                             .upload_fd = m->upload_fd,
                             .upload_spool_mb = m->config.upload_spool_mb };
}

int manager_startup(Manager *m)
{
        WatcherCallbacks cb = { .found = on_found, .lost = on_lost, .userdata = m };
        int r;

        r = open_dirs(m);
        if (r < 0)
                return r;
        r = recovery_run(m->event, m->records_fd, m->staging_fd, m->config.stop_timeout, &m->recovery);
        if (r < 0)
                return log_error_errno(r, "Cannot look for interrupted sessions");
        manager_apply_retention(m);

        r = sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_exit_signal,
                                        m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_reload_signal,
                                        m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch signals");
        (void) sd_event_set_watchdog(m->event, true);

        manager_resolve_group(m, NULL);
        r = control_new(m->event,
                        &(ControlOptions){ .socket = m->config.socket,
                                           .listen_fd = listen_fd_from_systemd(),
                                           .max_connections = m->config.max_connections,
                                           .gid = m->allowed_gid,
                                           .gid_valid = m->allowed_gid_valid,
                                           .group_name = m->config.allowed_group },
                        &control_ops, m, &m->control);
        if (r < 0)
                return r;
        if (m->config.target_unit[0])
                r = watcher_new_unit(m->event, m->proc_fd, m->config.target_unit, &cb, &m->watcher);
        else
                r = watcher_new(m->event, m->proc_fd, m->config.target_match, m->config.scan_interval, &cb,
                                &m->watcher);
        if (r < 0)
                return log_error_errno(r, "Cannot watch for PAM");
        manager_start_metrics(m);
        manager_start_recorder(m);

        r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC, 10 * USEC_PER_SEC,
                                       USEC_PER_SEC, on_status_timer, m);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(m->status_timer, SD_EVENT_OFF);
        (void) sd_notify(false, "READY=1");
        manager_update_status(m);
        log_info("pamprofd " PACKAGE_VERSION " ready on %s; sessions go to %s", control_path(m->control),
                 m->config.output_dir);
        return 0;
}

int manager_run(Manager *m)
{
        return sd_event_loop(m->event);
}
