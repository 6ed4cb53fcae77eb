/* SPDX-License-Identifier: MIT */
/*
 * start and stop: a session's options checked against the daemon's limits, its output
 * directory, its target (PAM, waited for, or a --pid), then the session; a stop answered when
 * the session's files are final.
 */
#include "commands-internal.h"

#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "log.h"
#include "proc-stat.h"
#include "records.h"
#include "profiler.h"
#include "recorder.h"

struct PendingStart {
        Connection *connection;
        cJSON *json;
        int dir_fd;
        sd_event_source *timer; /* waiting for PAM (--wait) */
        VersionProbe *probe;    /* or for the profiler to say its version, in a child */
};

static int start_options(Manager *m, const Request *req, bool has_fd, SessionOptions *o, CommandReply *reply)
{
        const char *scenario = request_get_string(req, "scenario", "");
        double interval = request_get_number(req, "interval", (double) m->config.interval / 1e6);
        double duration = request_get_number(req, "duration", 0);
        double max = (double) m->config.max_duration / 1e6;
        char why[256];

        if (request_has(req, "output") && !has_fd) {
                reply_error(reply, PROTO_E_BAD_FIELD,
                            "\"output\" must come with the directory's descriptor; the daemon does "
                            "not open paths for clients (use pamprofctl --output).");
                return -EINVAL;
        }
        if (max > 0 && duration > max) {
                reply_error(reply, PROTO_E_BAD_FIELD,
                            "A duration of %gs is over this daemon's limit of %gs (max_duration).", duration,
                            max);
                return -EINVAL;
        }
        *o = (SessionOptions){
                .interval = (usec_t) llround(interval * 1e6),
                .duration = (usec_t) llround((duration > 0 ? duration : max) * 1e6),
                .pid = (pid_t) request_get_number(req, "pid", 0),
                .include_children = request_get_bool(req, "include_children", false),
                .monitor = request_get_bool(req, "monitor", true),
                .profile = request_get_bool(req, "profile", true),
                .rate = (unsigned) request_get_number(req, "rate", m->config.rate),
                .idle = request_get_bool(req, "idle", true),
                .nonblocking = request_get_bool(req, "nonblocking", false),
                .native = request_get_bool(req, "native", false),
                .subprocesses = request_get_bool(req, "subprocesses", false),
                .gil = request_get_bool(req, "gil", false),
        };
        snprintf(o->scenario, sizeof(o->scenario), "%s", scenario);
        snprintf(o->profiler, sizeof(o->profiler), "%s",
                 request_get_string(req, "profiler", m->config.profiler));
        if (o->profile &&
            profiler_check_choice(o->profiler, &(ProfilerRequest){ .native = o->native, .gil = o->gil }, why,
                                  sizeof(why)) < 0) {
                reply_error(reply, PROTO_E_BAD_FIELD, "%s", why);
                return -EINVAL;
        }
        if (!o->monitor && !o->profile) {
                reply_error(reply, PROTO_E_BAD_FIELD,
                            "With both --no-monitor and --no-profile the session would do nothing.");
                return -EINVAL;
        }
        return 0;
}

static bool fd_path(int fd, char *buf, size_t size)
{
        char proc[64];
        ssize_t n;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        n = readlink(proc, buf, size - 1);
        if (n <= 0 || buf[0] != '/')
                return false;
        buf[n] = '\0';
        return !strstr(buf, " (deleted)");
}

/* The client's --output directory, or the configured one. Takes dir_fd. */
static int start_output_dir(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply,
                            int *ret_fd, const char **ret_path, uid_t *ret_uid, gid_t *ret_gid)
{
        static char path_buf[PATH_MAX]; /* used before the next request; the loop is single-threaded */
        _cleanup_close_ int fd = dir_fd;
        const gid_t *groups;
        size_t n = connection_groups(c, &groups);
        struct stat st;
        int r;

        if (fd >= 0) {
                if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        reply_error(reply, PROTO_E_BAD_FIELD, "The output descriptor is not a directory.");
                        return -ENOTDIR;
                }
                if (!dir_writable_by(fd, connection_uid(c), connection_gid(c), groups, n)) {
                        reply_error(reply, PROTO_E_DENIED,
                                    "You (uid %u) may not write into %s; choose a directory of "
                                    "your own.",
                                    (unsigned) connection_uid(c),
                                    request_get_string(req, "output", "the output directory"));
                        return -EACCES;
                }
                /* Where the descriptor really is, from the kernel: the "output" string is only a claim. */
                *ret_path = fd_path(fd, path_buf, sizeof(path_buf)) ? path_buf
                                                                    : request_get_string(req, "output", "?");
                *ret_uid = connection_uid(c);
                *ret_gid = connection_gid(c);
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        r = mkdir_parents(m->config.output_dir, 0755);
        if (r >= 0) {
                fd = open(m->config.output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = fd < 0 ? -errno : 0;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot open the output directory %s", m->config.output_dir);
                reply_error(reply, PROTO_E_IO, "The daemon cannot open its output directory %s: %s.",
                            m->config.output_dir, strerror(-r));
                return r;
        }
        *ret_path = m->config.output_dir;
        *ret_uid = (uid_t) -1;
        *ret_gid = (gid_t) -1;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static bool pid_exists(Manager *m, pid_t pid)
{
        ProcStat st;

        return proc_stat_read(m->proc_fd, pid, &st) == 0;
}

static void pending_free(Manager *m)
{
        PendingStart *p = m->pending;

        if (!p)
                return;
        m->pending = NULL;
        sd_event_source_disable_unref(p->timer);
        version_probe_free(p->probe);
        connection_unref(p->connection);
        cJSON_Delete(p->json);
        if (p->dir_fd >= 0)
                close(p->dir_fd);
        free(p);
}

/* The executable the configuration names for the profiler called name, or "". */
static const char *configured_path(const Manager *m, const char *name)
{
        const ProfilerBackend *b = profiler_backend_find(name);

        return b ? config_string(&m->config, b->path_key) : "";
}

static int on_pending_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        char why[512];

        snprintf(why, sizeof(why), "PAM did not appear in time: no command line matched \"%s\".",
                 m->config.target_match);
        commands_cancel_pending(m, why);
        return 0;
}

/* The start, kept to be run again later (commands_target_found()); dir_fd taken. NULL: said. */
static PendingStart *start_park(Manager *m, Connection *c, const Request *req, int dir_fd,
                                CommandReply *reply)
{
        PendingStart *p = calloc(1, sizeof(*p));

        if (!p || !(p->json = cJSON_Duplicate(req->json, true))) {
                free(p);
                if (dir_fd >= 0)
                        close(dir_fd);
                reply_error(reply, PROTO_E_INTERNAL, "Out of memory.");
                return NULL;
        }
        p->connection = connection_ref(c);
        p->dir_fd = dir_fd;
        m->pending = p;
        return p;
}

static void start_wait(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        double wait = request_get_number(req, "wait", 0);
        PendingStart *p = start_park(m, c, req, dir_fd, reply);

        if (!p)
                return;
        if (sd_event_add_time_relative(m->event, &p->timer, CLOCK_MONOTONIC, (usec_t) (wait * 1e6),
                                       USEC_PER_MSEC, on_pending_timeout, m) < 0) {
                pending_free(m);
                reply_error(reply, PROTO_E_INTERNAL, "Cannot arm a timer.");
                return;
        }
        reply->deferred = true; /* answered when PAM appears, or when the wait runs out */
        log_info("uid %u waits up to %gs for PAM to start scenario %s", (unsigned) connection_uid(c), wait,
                 request_get_string(req, "scenario", "?"));
        manager_update_status(m);
}

void commands_target_found(Manager *m)
{
        PendingStart *p = m->pending;
        CommandReply reply = { 0 };
        Request req;
        Connection *c;
        int fd;

        if (!p)
                return;
        c = connection_ref(p->connection);
        req = (Request){ .command = &protocol_commands[CMD_START], .json = TAKE_PTR(p->json) };
        fd = TAKE_FD(p->dir_fd);
        pending_free(m);
        /* Without "wait" this time, so an absent PAM cannot loop. */
        cJSON_DeleteItemFromObjectCaseSensitive(req.json, "wait");
        cmd_start(m, c, &req, fd, &reply);
        reply_send(c, &reply);
        request_done(&req);
        connection_unref(c);
}

void pending_forget_connection(Manager *m, Connection *c)
{
        if (m->pending && m->pending->connection == c)
                pending_free(m);
}

void commands_cancel_pending(Manager *m, const char *why)
{
        Connection *c = m->pending ? connection_ref(m->pending->connection) : NULL;

        pending_free(m);
        if (c && why)
                connection_reply_error(c, PROTO_E_NO_TARGET, "%s", why);
        connection_unref(c);
}

static void reply_busy(Manager *m, CommandReply *reply)
{
        if (!m->session) {
                reply_error(
                        reply, PROTO_E_BUSY, "%s",
                        m->pending && m->pending->probe
                                ? "Another client's start is asking its profiler's version; try again in a "
                                  "moment."
                                : "Another client's start is waiting for PAM to appear.");
                return;
        }
        reply_error(reply, PROTO_E_BUSY,
                    "A session is already running: %s (scenario %s, %.0fs so far). Stop it first "
                    "with \"pamprofctl stop\".",
                    session_id(m->session), session_options(m->session)->scenario,
                    (double) (now(CLOCK_MONOTONIC) - session_start_mono(m->session)) / 1e6);
}

static pid_t start_target(Manager *m, Connection *c, const SessionOptions *o, const Request *req, int dir_fd,
                          CommandReply *reply)
{
        pid_t pid;

        if (o->pid > 0) {
                if (pid_exists(m, o->pid))
                        return o->pid;
                reply_error(reply, PROTO_E_NO_TARGET, "There is no process with pid %d.", (int) o->pid);
                return 0;
        }
        pid = watcher_pid(m->watcher);
        if (pid == 0 && watcher_rescan(m->watcher) == 0)
                pid = watcher_pid(m->watcher);
        if (pid > 0)
                return pid;
        if (request_get_number(req, "wait", 0) > 0) {
                start_wait(m, c, req, dir_fd, reply);
                return 0;
        }
        if (watcher_unit(m->watcher))
                reply_error(reply, PROTO_E_NO_TARGET,
                            "PAM is not running: %s has no main process. Start it (systemctl start %s), "
                            "or give --pid PID, or --wait SECONDS to wait for it.",
                            watcher_unit(m->watcher), watcher_unit(m->watcher));
        else
                reply_error(reply, PROTO_E_NO_TARGET,
                            "PAM is not running: no process's command line matches \"%s\". Start PAM "
                            "first, or give --pid PID, or --wait SECONDS to wait for it.",
                            m->config.target_match);
        return 0;
}

static void on_version(void *userdata)
{
        Manager *m = userdata;

        m->pending->probe = NULL; /* freed after this */
        commands_target_found(m); /* the start again: the version is known now */
}

/*
 * Refuse before anything is created when the chosen profiler cannot be found or cannot run.
 * Its version is asked once an executable, in a child (up to 3 s): meanwhile the start waits
 * (-EAGAIN, reply deferred, the request parked) and the loop goes on.
 */
static int start_check_profiler(Manager *m, Connection *c, const Request *req, int *dir_fd,
                                const SessionOptions *o, pid_t target, CommandReply *reply)
{
        _cleanup_free_ char *path = NULL, *looked = NULL;
        const ProfilerBackend *b = profiler_backend_find(o->profiler);
        int r = profiler_find(b, config_string(&m->config, b->path_key), m->proc_fd, target, &path, &looked);

        if (r >= 0) {
                char said[256];

                /* Found is not enough: a file that cannot run would fail every run, and what it
                 * printed would pass for its version. */
                r = profiler_version(path, said, sizeof(said));
                if (r >= 0)
                        return 0;
                if (r == -EAGAIN) {
                        PendingStart *p = start_park(m, c, req, TAKE_FD(*dir_fd), reply);
                        if (!p)
                                return -ENOMEM;
                        r = version_probe_start(m->event, path, on_version, m, &p->probe);
                        if (r < 0) {
                                pending_free(m);
                                reply_error(reply, PROTO_E_INTERNAL, "Cannot ask %s its version: %s.", path,
                                            strerror(-r));
                                return r;
                        }
                        reply->deferred = true;
                        return -EAGAIN;
                }
                log_notice("Refused a profiled start: %s (%s) does not run: %s", b->name, path, said);
                reply_error(reply, PROTO_E_NO_PROFILER,
                            "%s (%s) cannot be run: `%s --version` %s%s. %s, or start with "
                            "--no-profile for CPU and memory only.",
                            b->display, path, b->binary,
                            r == -EIO ? "printed nothing and failed" : "said: ", r == -EIO ? "" : said,
                            b->install_hint);
                return r;
        }
        log_notice("Refused a profiled start: %s not found in %s", b->name, looked ? looked : "PATH");
        reply_error(reply, PROTO_E_NO_PROFILER,
                    "%s was not found (looked at %s). %s, or start with --no-profile for CPU "
                    "and memory only.",
                    b->name, looked ? looked : "PATH", b->install_hint);
        return r;
}

static bool disk_below_floor(Manager *m, int dir_fd, const char *path, CommandReply *reply)
{
        uint64_t free_mb;

        if (disk_free_mb(dir_fd, &free_mb) < 0 || free_mb >= m->config.min_free_mb)
                return false;
        reply_error(reply, PROTO_E_IO,
                    "Only %" PRIu64 " MB are free on the filesystem of %s; pamprofd keeps %u MB free "
                    "(min_free_mb). Free some space, or choose another --output.",
                    free_mb, path, m->config.min_free_mb);
        return true;
}

static cJSON *start_result(Session *s)
{
        cJSON *r = cJSON_CreateObject();
        const SessionOptions *o = session_options(s);

        cJSON_AddStringToObject(r, "id", session_id(s));
        cJSON_AddStringToObject(r, "scenario", o->scenario);
        cJSON_AddNumberToObject(r, "pid", session_target_pid(s));
        cJSON_AddNumberToObject(r, "interval", (double) o->interval / 1e6);
        cJSON_AddNumberToObject(r, "duration", (double) o->duration / 1e6);
        cJSON_AddBoolToObject(r, "monitor", o->monitor);
        cJSON_AddBoolToObject(r, "profile", o->profile);
        cJSON_AddItemToObject(r, "status", session_status_json(s));
        return r;
}

void cmd_start(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        SessionEnv env;
        _cleanup_close_ int fd = dir_fd;
        _cleanup_free_ char *error = NULL;
        SessionOptions o;
        Requester who = { connection_uid(c), connection_gid(c), connection_pid(c) };
        const char *path = NULL;
        uid_t uid;
        gid_t gid;
        pid_t target;
        int out_fd = -1, r;

        if (m->session || m->pending) {
                reply_busy(m, reply);
                return;
        }
        if (start_options(m, req, fd >= 0, &o, reply) < 0)
                return;
        target = start_target(m, c, &o, req, fd, reply);
        if (reply->deferred)
                fd = -1; /* the pending start owns it now */
        if (target == 0)
                return;
        if (o.profile && start_check_profiler(m, c, req, &fd, &o, target, reply) < 0)
                return;
        if (start_output_dir(m, c, req, TAKE_FD(fd), reply, &out_fd, &path, &uid, &gid) < 0)
                return;
        if (disk_below_floor(m, out_fd, path, reply)) {
                close(out_fd);
                return;
        }
        manager_session_env(m, &env);
        env.profiler_path = configured_path(m, o.profiler);
        r = session_start(&env, manager_session_owner(m), &o, &who, out_fd, path, uid, gid, target,
                          &m->session, &error);
        if (r < 0) {
                log_error("Start of scenario %s for uid %u failed: %s", o.scenario, (unsigned) who.uid,
                          error ? error : strerror(-r));
                reply_error(reply, PROTO_E_IO, "%s", error ? error : strerror(-r));
                return;
        }
        m->sessions_started++;
        /* One sampler of stacks on PAM at a time: the session's; the recorder keeps its rows. */
        if (m->recorder && o.profile) {
                char why[192];
                snprintf(why, sizeof(why), "session %s profiles PAM", session_id(m->session));
                recorder_pause(m->recorder, why);
        }
        manager_update_status(m);
        reply_ok(reply, start_result(m->session));
}

static void on_session_stopped(Session *s, void *userdata)
{
        Connection *c = userdata;
        cJSON *r = session_to_json(s);

        if (r)
                (void) record_fit(r, PROTO_RESULT_MAX); /* the session stopped: that is said in any case */
        connection_reply_ok(c, r);
}

void cmd_stop(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        const char *id = request_get_string(req, "id", NULL);
        char reason[128];

        if (m->pending && !m->session) {
                commands_cancel_pending(m, "The waiting start was cancelled by a stop.");
                reply_ok(reply, NULL);
                return;
        }
        if (!m->session) {
                reply_error(reply, PROTO_E_NO_SESSION, "No session is running.");
                return;
        }
        if (id && strcmp(id, session_id(m->session)) != 0) {
                reply_error(reply, PROTO_E_NOT_FOUND, "Session %.128s is not the running one (%s).", id,
                            session_id(m->session));
                return;
        }
        snprintf(reason, sizeof(reason), "stopped by uid %u (pid %d)", (unsigned) connection_uid(c),
                 (int) connection_pid(c));
        /* Answered when the files are final; the waiter goes if the client does first. */
        if (session_stop(m->session, reason, on_session_stopped, c) < 0) {
                reply_error(reply, PROTO_E_INTERNAL, "Out of memory: cannot wait for the session to stop.");
                return;
        }
        reply->deferred = true;
}
