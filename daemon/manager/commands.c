/* SPDX-License-Identifier: MIT */
/*
 * The command handlers: one function per row of the protocol's command
 * table. Requests arrive validated (frame, JSON, version, command, fields);
 * here come the caller's right to run it, then the work.
 *
 * One reply per request (chrony's cmdmon): a handler only fills a
 * CommandReply (a result, or an error code and its sentence) and
 * commands_dispatch() sends it, exactly once. A handler that answers later
 * (a start waiting for PAM, a stop waiting for the files) says so with
 * reply->deferred and keeps a reference to the connection until it answers.
 */
#include "commands.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "cleanup.h"
#include "format-util.h"
#include "fs-util.h"
#include "log.h"
#include "manager.h"
#include "proc-read.h"
#include "proc-stat.h"
#include "proc-uptime.h"
#include "records.h"
#include "profiler.h"
#include "retention.h"
#include "session.h"
#include "sort-util.h"
#include "watcher.h"

#define LIST_DEFAULT 100

struct PendingStart {
        Connection *connection;
        cJSON *json;
        int dir_fd;
        sd_event_source *timer;
};

typedef struct CommandReply {
        ProtoError error; /* PROTO_OK: result is the answer */
        char *message;    /* the sentence of an error, for a person */
        cJSON *result;
        bool deferred; /* the handler answers later, on its own */
} CommandReply;

typedef void (*CommandHandler)(Manager *m, Connection *c, const Request *req, int dir_fd,
                               CommandReply *reply);

static void reply_error(CommandReply *reply, ProtoError code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void reply_error(CommandReply *reply, ProtoError code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        free(reply->message);
        if (vasprintf(&reply->message, fmt, ap) < 0)
                reply->message = NULL;
        va_end(ap);
        reply->error = code;
}

static void reply_ok(CommandReply *reply, cJSON *result)
{
        cJSON_Delete(reply->result);
        reply->result = result;
        reply->error = PROTO_OK;
}

/* The one place a reply is sent for a request handled now. */
static void reply_send(Connection *c, CommandReply *reply)
{
        if (reply->deferred)
                return;
        if (reply->error != PROTO_OK)
                connection_reply_error(c, reply->error, "%s",
                                       reply->message ? reply->message : "Out of memory.");
        else
                connection_reply_ok(c, TAKE_PTR(reply->result));
        cJSON_Delete(reply->result);
        free(reply->message);
        *reply = (CommandReply){ 0 };
}

bool peer_is_allowed(const Manager *m, const Connection *c)
{
        const gid_t *groups;
        size_t n;

        if (connection_uid(c) == 0 || connection_uid(c) == geteuid())
                return true;
        if (!m->allowed_gid_valid)
                return false;
        if (connection_gid(c) == m->allowed_gid)
                return true;
        n = connection_groups(c, &groups);
        for (size_t i = 0; i < n; i++)
                if (groups[i] == m->allowed_gid)
                        return true;
        return false;
}

static void cmd_version(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        cJSON *r = cJSON_CreateObject();

        cJSON_AddStringToObject(r, "version", PACKAGE_VERSION);
        cJSON_AddNumberToObject(r, "protocol", PAMPROF_PROTOCOL_VERSION);
        reply_ok(reply, r);
}

/* How long the process has run: its start time in ticks after boot against <proc>/uptime. */
static double process_uptime(Manager *m, pid_t pid)
{
        char buf[1024];
        double up;
        ProcStat st;
        size_t len;

        if (proc_stat_read(m->proc_fd, pid, &st) < 0)
                return -1;
        if (proc_read_file(m->proc_fd, "uptime", buf, sizeof(buf), &len) < 0 ||
            proc_uptime_parse(buf, len, &up) < 0)
                return -1;
        return up - (double) st.starttime / (double) sysconf(_SC_CLK_TCK);
}

static cJSON *target_status(Manager *m)
{
        cJSON *t = cJSON_CreateObject();
        pid_t pid = watcher_pid(m->watcher);

        cJSON_AddStringToObject(t, "match", m->config.target_match);
        if (watcher_unit(m->watcher))
                cJSON_AddStringToObject(t, "unit", watcher_unit(m->watcher));
        cJSON_AddStringToObject(t, "state", pid > 0 ? "running" : "absent");
        cJSON_AddNumberToObject(t, "restarts", watcher_restarts(m->watcher));
        if (pid > 0) {
                cJSON_AddNumberToObject(t, "pid", pid);
                cJSON_AddStringToObject(t, "cmdline", watcher_cmdline(m->watcher));
                cJSON_AddNumberToObject(t, "seen_seconds",
                                        (double) (now(CLOCK_MONOTONIC) - watcher_since(m->watcher)) / 1e6);
                cJSON_AddNumberToObject(t, "uptime_seconds", process_uptime(m, pid));
        }
        return t;
}

static cJSON *daemon_status(Manager *m)
{
        cJSON *d = cJSON_CreateObject();
        ControlCounters cc;

        control_counters(m->control, &cc);
        cJSON_AddStringToObject(d, "version", PACKAGE_VERSION);
        cJSON_AddNumberToObject(d, "pid", getpid());
        cJSON_AddNumberToObject(d, "uptime_seconds",
                                (double) (now(CLOCK_MONOTONIC) - m->started_mono) / 1e6);
        cJSON_AddStringToObject(d, "socket", control_path(m->control));
        cJSON_AddStringToObject(d, "output_dir", m->config.output_dir);
        cJSON_AddNumberToObject(d, "default_interval", (double) m->config.interval / 1e6);
        cJSON_AddNumberToObject(d, "max_duration", (double) m->config.max_duration / 1e6);
        cJSON_AddNumberToObject(d, "sessions_started", m->sessions_started);
        cJSON_AddNumberToObject(d, "connections", cc.connections);
        cJSON_AddNumberToObject(d, "requests", (double) cc.requests);
        cJSON_AddNumberToObject(d, "errors", (double) cc.errors);
        cJSON_AddNumberToObject(d, "refused_connections", (double) cc.refused);
        cJSON_AddNumberToObject(d, "dropped_idle", (double) cc.dropped);
        return d;
}

static void cmd_status(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        cJSON *r = cJSON_CreateObject();

        cJSON_AddItemToObject(r, "daemon", daemon_status(m));
        cJSON_AddItemToObject(r, "target", target_status(m));
        if (m->session)
                cJSON_AddItemToObject(r, "session", session_status_json(m->session));
        else
                cJSON_AddNullToObject(r, "session");
        cJSON_AddBoolToObject(r, "waiting_for_target", m->pending != NULL);
        reply_ok(reply, r);
}

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

static void cmd_start(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply);

static int on_pending_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        char why[512];

        snprintf(why, sizeof(why), "PAM did not appear in time: no command line matched \"%s\".",
                 m->config.target_match);
        commands_cancel_pending(m, why);
        return 0;
}

static void start_wait(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        double wait = request_get_number(req, "wait", 0);
        PendingStart *p = calloc(1, sizeof(*p));

        if (!p || !(p->json = cJSON_Duplicate(req->json, true))) {
                free(p);
                if (dir_fd >= 0)
                        close(dir_fd);
                reply_error(reply, PROTO_E_INTERNAL, "Out of memory.");
                return;
        }
        p->connection = connection_ref(c);
        p->dir_fd = dir_fd;
        m->pending = p;
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
                reply_error(reply, PROTO_E_BUSY, "Another client's start is waiting for PAM to appear.");
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

/* Refuse before anything is created when the chosen profiler cannot be found. */
static int start_check_profiler(Manager *m, const SessionOptions *o, pid_t target, CommandReply *reply)
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

static void cmd_start(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
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
        if (o.profile && start_check_profiler(m, &o, target, reply) < 0)
                return;
        if (start_output_dir(m, c, req, TAKE_FD(fd), reply, &out_fd, &path, &uid, &gid) < 0)
                return;
        if (disk_below_floor(m, out_fd, path, reply)) {
                close(out_fd);
                return;
        }
        r = session_start(&(SessionEnv){ .event = m->event,
                                         .proc_fd = m->proc_fd,
                                         .staging_fd = m->staging_fd,
                                         .records_fd = m->records_fd,
                                         .state_dir = m->config.state_dir,
                                         .target_match = m->config.target_match,
                                         .watcher = m->watcher,
                                         .profiler_path = configured_path(m, o.profiler),
                                         .stop_timeout = m->config.stop_timeout,
                                         .chunk = m->config.chunk,
                                         .pss_interval = m->config.pss_interval,
                                         .max_profile_mb = m->config.max_profile_mb,
                                         .min_free_mb = m->config.min_free_mb,
                                         .threads = m->config.threads,
                                         .upload = manager_upload_fd(m) >= 0,
                                         .upload_fd = m->upload_fd,
                                         .upload_spool_mb = m->config.upload_spool_mb },
                          manager_session_owner(m), &o, &who, out_fd, path, uid, gid, target, &m->session,
                          &error);
        if (r < 0) {
                log_error("Start of scenario %s for uid %u failed: %s", o.scenario, (unsigned) who.uid,
                          error ? error : strerror(-r));
                reply_error(reply, PROTO_E_IO, "%s", error ? error : strerror(-r));
                return;
        }
        m->sessions_started++;
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

static void cmd_stop(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
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

typedef struct ListItem {
        double started;
        cJSON *item;
} ListItem;

static int list_item_cmp(const void *a, const void *b)
{
        double x = ((const ListItem *) a)->started, y = ((const ListItem *) b)->started;
        return x < y ? -1 : x > y;
}

static cJSON *record_brief(const cJSON *rec, double *ret_started)
{
        static const char *const keys[] = { "id",         "scenario",         "state",
                                            "started_at", "duration_seconds", "rows",
                                            "output_dir", "end_reason" };
        cJSON *o = cJSON_CreateObject();
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "started_at_unix");

        *ret_started = cJSON_IsNumber(v) ? v->valuedouble : 0;
        for (size_t i = 0; o && i < ELEMENTSOF(keys); i++) {
                v = cJSON_GetObjectItemCaseSensitive(rec, keys[i]);
                if (v)
                        cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, true));
        }
        return o;
}

typedef struct ListItems {
        ListItem *items;
        size_t n, cap;
} ListItems;

static void list_one(const char *id, cJSON *rec, void *userdata)
{
        ListItems *l = userdata;

        if (l->n == l->cap) {
                ListItem *a = realloc(l->items, (l->cap = l->cap ? l->cap * 2 : 64) * sizeof(*a));
                if (!a)
                        return;
                l->items = a;
        }
        l->items[l->n].item = record_brief(rec, &l->items[l->n].started);
        l->n++;
}

static int records_read(Manager *m, ListItem **ret, size_t *ret_n)
{
        ListItems l = { 0 };
        int r = records_foreach(m->records_fd, list_one, &l);

        if (r < 0)
                return r;
        qsort_safe(l.items, l.n, sizeof(*l.items), list_item_cmp);
        *ret = l.items;
        *ret_n = l.n;
        return 0;
}

static void cmd_list(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        size_t limit = (size_t) request_get_number(req, "limit", LIST_DEFAULT), n = 0, first;
        ListItem *items = NULL;
        cJSON *r, *arr;

        if (records_read(m, &items, &n) < 0) {
                reply_error(reply, PROTO_E_IO, "Cannot read the session records in %s.",
                            m->config.state_dir);
                return;
        }
        first = n > limit ? n - limit : 0;
        /* The newest that fit in one reply (--limit 1000 asks for more than 64 KiB can hold). */
        for (size_t i = n, used = 256; i > first; i--) {
                used += protocol_json_size(items[i - 1].item) + 1;
                if (used > PROTO_RESULT_MAX)
                        first = i;
        }
        r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "total", (double) n);
        arr = cJSON_AddArrayToObject(r, "sessions");
        for (size_t i = 0; i < n; i++) {
                if (i >= first)
                        cJSON_AddItemToArray(arr, items[i].item);
                else
                        cJSON_Delete(items[i].item);
        }
        free(items);
        reply_ok(reply, r);
}

static void cmd_show(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        const char *id = request_get_string(req, "id", "");
        _cleanup_free_ char *name = NULL;
        cJSON *rec;

        if (m->session && strcmp(id, session_id(m->session)) == 0) {
                rec = session_to_json(m->session);
                if (rec)
                        (void) record_fit(rec, PROTO_RESULT_MAX);
                reply_ok(reply, rec);
                return;
        }
        if (asprintf(&name, "%s.json", id) < 0) {
                reply_error(reply, PROTO_E_INTERNAL, "Out of memory.");
                return;
        }
        if (faccessat(m->records_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                reply_error(reply, PROTO_E_NOT_FOUND, "No session %s; \"pamprofctl list\" shows them.", id);
                return;
        }
        rec = record_read(m->records_fd, id);
        if (!rec) {
                reply_error(reply, PROTO_E_IO, "The record of %s cannot be read.", id);
                return;
        }
        if (record_fit(rec, PROTO_RESULT_MAX) < 0) {
                cJSON_Delete(rec);
                reply_error(reply, PROTO_E_TOO_LARGE,
                            "The record of %s is too large for a reply, even without its lists; read its "
                            "file, %s/sessions/%s.json.",
                            id, m->config.state_dir, id);
                return;
        }
        reply_ok(reply, rec);
}

static void cmd_delete(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        _cleanup_close_ int fd = dir_fd;
        const char *id = request_get_string(req, "id", "");
        _cleanup_free_ char *error = NULL;
        const gid_t *groups;
        size_t removed = 0, n = connection_groups(c, &groups);
        bool unreachable = false;
        cJSON *r;
        int k;

        /* A directory the client opened: only one it may change itself. */
        if (fd >= 0 && !dir_writable_by(fd, connection_uid(c), connection_gid(c), groups, n)) {
                reply_error(reply, PROTO_E_DENIED, "You (uid %u) may not remove files from that directory.",
                            (unsigned) connection_uid(c));
                return;
        }
        k = records_delete(m->records_fd, id, m->session ? session_id(m->session) : NULL, fd, &removed,
                           &unreachable, &error);
        if (k == -ENOENT) {
                reply_error(reply, PROTO_E_NOT_FOUND, "No session %s; \"pamprofctl list\" shows them.", id);
                return;
        }
        if (k == -EBUSY) {
                reply_error(reply, PROTO_E_BUSY, "%s", error);
                return;
        }
        if (k < 0) {
                reply_error(reply, PROTO_E_IO, "Cannot delete %s: %s.", id, strerror(-k));
                return;
        }
        log_notice("Session %s deleted by uid %u (%zu files%s)", id, (unsigned) connection_uid(c), removed,
                   unreachable ? "; its directory was out of reach, its files stay" : "");
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", id);
        cJSON_AddNumberToObject(r, "files_removed", (double) removed);
        cJSON_AddBoolToObject(r, "directory_unreachable", unreachable);
        reply_ok(reply, r);
}

static const CommandHandler handlers[_CMD_MAX] = {
        [CMD_VERSION] = cmd_version, [CMD_STATUS] = cmd_status, [CMD_START] = cmd_start,
        [CMD_STOP] = cmd_stop,       [CMD_LIST] = cmd_list,     [CMD_SHOW] = cmd_show,
        [CMD_DELETE] = cmd_delete,
};

void commands_dispatch(Manager *m, Connection *c, const Request *req, int dir_fd)
{
        const CommandSpec *cmd = req->command;
        CommandReply reply = { 0 };

        if (cmd->privileged && !peer_is_allowed(m, c)) {
                if (dir_fd >= 0)
                        close(dir_fd);
                log_notice("Refused %s for uid %u (pid %d): not root nor in group %s", cmd->name,
                           (unsigned) connection_uid(c), (int) connection_pid(c), m->config.allowed_group);
                reply_error(&reply, PROTO_E_DENIED,
                            "Only root and members of group \"%s\" may %s sessions; ask an "
                            "administrator to add you (usermod -aG %s USER), then log in again.",
                            m->config.allowed_group, cmd->name, m->config.allowed_group);
        } else
                handlers[cmd->id](m, c, req, dir_fd, &reply);
        reply_send(c, &reply);
}

void commands_forget_connection(Manager *m, Connection *c)
{
        if (m->session)
                session_remove_stop_waiter(m->session, c);
        if (m->pending && m->pending->connection == c)
                pending_free(m);
}
