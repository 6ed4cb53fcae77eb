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
#include "commands-internal.h"

#include "build-config.h"
#include "log.h"
#include "proc-read.h"
#include "proc-stat.h"
#include "proc-uptime.h"
#include <errno.h>
#include <string.h>

#include "recorder.h"
#include "records.h"

void reply_error(CommandReply *reply, ProtoError code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        free(reply->message);
        if (vasprintf(&reply->message, fmt, ap) < 0)
                reply->message = NULL;
        va_end(ap);
        reply->error = code;
}

void reply_ok(CommandReply *reply, cJSON *result)
{
        cJSON_Delete(reply->result);
        reply->result = result;
        reply->error = PROTO_OK;
}

/* The one place a reply is sent for a request handled now. */
void reply_send(Connection *c, CommandReply *reply)
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
        if (m->recorder)
                cJSON_AddItemToObject(r, "recorder", recorder_status_json(m->recorder));
        else
                cJSON_AddNullToObject(r, "recorder");
        reply_ok(reply, r);
}

static void on_snapshot_written(Session *s, void *userdata)
{
        Connection *c = userdata;
        cJSON *r = session_to_json(s);

        if (r)
                (void) record_fit(r, PROTO_RESULT_MAX);
        connection_reply_ok(c, r);
        connection_unref(c);
}

/* The recorder's window as a session: answered once its files are final, or at once with its ID
 * ("wait": false). */
static void cmd_snapshot(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        _cleanup_free_ char *error = NULL;
        Requester who = { connection_uid(c), connection_gid(c), connection_pid(c) };
        double before = request_get_number(req, "before", (double) m->config.recorder_window / 1e6);
        double after = request_get_number(req, "after", (double) m->config.recorder_after / 1e6);
        bool wait = request_get_bool(req, "wait", true);
        cJSON *r;
        int q;

        if (!m->recorder) {
                reply_error(
                        reply, PROTO_E_NO_SESSION,
                        "The flight recorder is off: set recorder = on in pamprofd.conf and restart pamprofd.");
                return;
        }
        if (before > (double) m->config.recorder_window / 1e6) {
                reply_error(reply, PROTO_E_BAD_FIELD,
                            "--before %gs is more than the recorder holds (recorder_window = %gs).", before,
                            (double) m->config.recorder_window / 1e6);
                return;
        }
        q = recorder_snapshot(m->recorder, (usec_t) (before * 1e6), (usec_t) (after * 1e6),
                              request_get_string(req, "scenario", NULL), &who,
                              wait ? on_snapshot_written : NULL, wait ? connection_ref(c) : NULL, &error);
        if (q < 0) {
                if (wait)
                        connection_unref(c);
                reply_error(reply,
                            q == -EBUSY             ? PROTO_E_BUSY
                                    : q == -ENODATA ? PROTO_E_NO_TARGET
                                                    : PROTO_E_IO,
                            "%s", error ? error : strerror(-q));
                return;
        }
        if (wait) {
                reply->deferred = true;
                return;
        }
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", recorder_busy_id(m->recorder) ? recorder_busy_id(m->recorder) : "");
        reply_ok(reply, r);
}

static const CommandHandler handlers[_CMD_MAX] = {
        [CMD_VERSION] = cmd_version, [CMD_STATUS] = cmd_status,     [CMD_START] = cmd_start,
        [CMD_STOP] = cmd_stop,       [CMD_LIST] = cmd_list,         [CMD_SHOW] = cmd_show,
        [CMD_DELETE] = cmd_delete,   [CMD_SNAPSHOT] = cmd_snapshot,
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
        pending_forget_connection(m, c);
        if (m->recorder)
                recorder_forget_waiter(m->recorder, c);
}
