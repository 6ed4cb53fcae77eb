/* SPDX-License-Identifier: MIT */
/*
 * What a session says of itself: _session.json (the record, rewritten at start, on each event
 * and at stop), the short form status shows, its events, and its files and ID.
 */
#include "session-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "cleanup.h"
#include "fs-util.h"
#include "watcher.h"

LogFields session_fields(const Session *s, const char *event, pid_t pid)
{
        return (LogFields){ .session = s->id, .scenario = s->o.scenario, .event = event, .pid = pid };
}

void session_add_time(cJSON *o, const char *key, usec_t realtime)
{
        char buf[ISO8601_MAX];

        if (realtime == 0 || format_iso8601(realtime, buf, sizeof(buf)) < 0)
                cJSON_AddNullToObject(o, key);
        else
                cJSON_AddStringToObject(o, key, buf);
}

double session_elapsed(const Session *s)
{
        usec_t end = s->end_mono ? s->end_mono : now(CLOCK_MONOTONIC);
        return (double) (end - s->start_mono) / 1e6;
}

/*
 * A record keeps the first EVENTS_FIRST events and the last EVENTS_LAST: it must fit in one reply
 * (PAMPROF_MESSAGE_MAX) and in memory however long the session and however often PAM restarts.
 * The last of the first says how many were left out after it; the journal has every one.
 */
static void events_bound(cJSON *events)
{
        cJSON *mark;
        double omitted;

        if (cJSON_GetArraySize(events) <= EVENTS_FIRST + EVENTS_LAST)
                return;
        cJSON_DeleteItemFromArray(events, EVENTS_FIRST);
        mark = cJSON_GetArrayItem(events, EVENTS_FIRST - 1);
        omitted = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(mark, "omitted_after"));
        cJSON_DeleteItemFromObjectCaseSensitive(mark, "omitted_after");
        cJSON_AddNumberToObject(mark, "omitted_after", (isnan(omitted) ? 0 : omitted) + 1);
}

void session_event(Session *s, const char *type, pid_t pid, const char *fmt, ...)
{
        char msg[512];
        LogFields f = session_fields(s, type, pid);
        cJSON *e;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        log_struct(LOG_NOTICE, &f, "%s: %s", s->id, msg);
        e = cJSON_CreateObject();
        if (!e)
                return;
        cJSON_AddNumberToObject(e, "elapsed_seconds", session_elapsed(s));
        session_add_time(e, "time", now(CLOCK_REALTIME));
        cJSON_AddStringToObject(e, "type", type);
        if (pid > 0)
                cJSON_AddNumberToObject(e, "pid", pid);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddItemToArray(s->events, e);
        events_bound(s->events);
        if (s->state == SESSION_RUNNING)
                session_write_record(s);
}

cJSON *session_files_json(const Session *s)
{
        cJSON *files = cJSON_CreateObject();

        for (size_t i = 0; files && i < s->n_files; i++)
                if (s->files[i].name[0])
                        cJSON_AddStringToObject(files, s->files[i].key, s->files[i].name);
        return files;
}

static cJSON *options_json(const Session *s)
{
        cJSON *o = cJSON_CreateObject();

        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "interval", (double) s->o.interval / 1e6);
        cJSON_AddNumberToObject(o, "duration", (double) s->o.duration / 1e6);
        if (s->o.pid > 0)
                cJSON_AddNumberToObject(o, "pid", s->o.pid);
        else
                cJSON_AddNullToObject(o, "pid");
        cJSON_AddBoolToObject(o, "include_children", s->o.include_children);
        cJSON_AddBoolToObject(o, "monitor", s->o.monitor);
        cJSON_AddBoolToObject(o, "profile", s->o.profile);
        cJSON_AddNumberToObject(o, "rate", s->o.rate);
        cJSON_AddBoolToObject(o, "idle", s->o.idle);
        cJSON_AddBoolToObject(o, "nonblocking", s->o.nonblocking);
        cJSON_AddBoolToObject(o, "native", s->o.native);
        cJSON_AddBoolToObject(o, "subprocesses", s->o.subprocesses);
        cJSON_AddBoolToObject(o, "gil", s->o.gil);
        return o;
}

cJSON *session_to_json(const Session *s)
{
        cJSON *root = cJSON_CreateObject(), *x;
        const char *cmdline;

        if (!root)
                return NULL;
        cJSON_AddNumberToObject(root, "format", 1);
        cJSON_AddStringToObject(root, "pamprofd_version", PACKAGE_VERSION);
        cJSON_AddStringToObject(root, "id", s->id);
        cJSON_AddStringToObject(root, "scenario", s->o.scenario);
        cJSON_AddStringToObject(root, "state", session_state_to_string(s->state));
        if (s->end_reason)
                cJSON_AddStringToObject(root, "end_reason", s->end_reason);
        else
                cJSON_AddNullToObject(root, "end_reason");
        session_add_time(root, "started_at", s->start_real);
        cJSON_AddNumberToObject(root, "started_at_unix", (double) s->start_real / 1e6);
        session_add_time(root, "ended_at", s->end_real);
        if (s->end_real)
                cJSON_AddNumberToObject(root, "ended_at_unix", (double) s->end_real / 1e6);
        cJSON_AddNumberToObject(root, "duration_seconds", session_elapsed(s));
        cJSON_AddStringToObject(root, "output_dir", s->dir_path);
        cJSON_AddNumberToObject(root, "output_dir_dev", (double) s->dir_dev);
        cJSON_AddNumberToObject(root, "output_dir_ino", (double) s->dir_ino);
        cJSON_AddItemToObject(root, "options", options_json(s));

        x = cJSON_AddObjectToObject(root, "requested_by");
        if (x) {
                cJSON_AddNumberToObject(x, "uid", s->who.uid);
                cJSON_AddNumberToObject(x, "gid", s->who.gid);
                cJSON_AddNumberToObject(x, "pid", s->who.pid);
        }
        x = cJSON_AddObjectToObject(root, "target");
        if (x) {
                cJSON_AddNumberToObject(x, "pid", s->target_pid);
                cmdline = s->o.pid       ? s->target_cmdline
                        : s->env.watcher ? watcher_cmdline(s->env.watcher)
                                         : NULL;
                if (cmdline)
                        cJSON_AddStringToObject(x, "cmdline", cmdline);
                if (!s->o.pid)
                        cJSON_AddStringToObject(x, "match", s->env.target_match);
        }
        cJSON_AddItemToObject(root, "files", session_files_json(s));
        cJSON_AddItemReferenceToObject(root, "events", s->events);
        if (s->memory_trend)
                cJSON_AddItemReferenceToObject(root, "memory_trend", s->memory_trend);
        for (size_t i = 0; i < s->n_parts; i++)
                if (s->parts[i].ops->describe)
                        s->parts[i].ops->describe((Session *) s, s->parts[i].state, root);
        return root;
}

cJSON *session_status_json(const Session *s)
{
        cJSON *root = cJSON_CreateObject();

        if (!root)
                return NULL;
        cJSON_AddStringToObject(root, "id", s->id);
        cJSON_AddStringToObject(root, "scenario", s->o.scenario);
        cJSON_AddStringToObject(root, "state", session_state_to_string(s->state));
        cJSON_AddNumberToObject(root, "elapsed_seconds", session_elapsed(s));
        cJSON_AddNumberToObject(root, "interval", (double) s->o.interval / 1e6);
        cJSON_AddNumberToObject(root, "duration", (double) s->o.duration / 1e6);
        cJSON_AddNumberToObject(root, "pid", s->target_pid);
        cJSON_AddStringToObject(root, "output_dir", s->dir_path);
        cJSON_AddItemToObject(root, "files", session_files_json(s));
        cJSON_AddNumberToObject(root, "events", cJSON_GetArraySize(s->events));
        for (size_t i = 0; i < s->n_parts; i++)
                if (s->parts[i].ops->describe)
                        s->parts[i].ops->describe((Session *) s, s->parts[i].state, root);
        return root;
}

void session_status_words(const Session *s, char *buf, size_t size)
{
        cJSON *st = session_status_json(s);
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(st, "rows");
        const cJSON *profile = cJSON_GetObjectItemCaseSensitive(st, "profile");
        const cJSON *prof = cJSON_GetObjectItemCaseSensitive(profile, "state");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(profile, "profiler_name");
        int n = 0;

        buf[0] = '\0';
        if (cJSON_IsNumber(rows))
                n = snprintf(buf, size, ", %.0f rows", rows->valuedouble);
        if (cJSON_IsString(prof) && n >= 0 && (size_t) n < size)
                snprintf(buf + n, size - (size_t) n, ", %s %s",
                         cJSON_IsString(name) ? name->valuestring : "py-spy", prof->valuestring);
        cJSON_Delete(st);
}

int session_write_record(Session *s)
{
        _cleanup_free_ char *text = NULL, *record_name = NULL;
        cJSON *root = session_to_json(s);
        const SessionFile *f = NULL;
        int r;

        if (!root)
                return -ENOMEM;
        text = cJSON_Print(root);
        cJSON_Delete(root);
        if (!text)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_files; i++)
                if (strcmp(s->files[i].key, "session") == 0)
                        f = &s->files[i];
        r = f ? write_file_atomic_at(s->dir_fd, f->name, text, strlen(text), s->file_uid, s->file_gid) : 0;
        if (r < 0) {
                LogFields lf = session_fields(s, "write-error", 0);
                log_internal(LOG_ERR, r, &lf, "%s: cannot write %s in %s", s->id, f->name, s->dir_path);
        }
        if (asprintf(&record_name, "%s.json", s->id) < 0)
                return -ENOMEM;
        if (s->env.records_fd >= 0) {
                int q = write_file_atomic_at(s->env.records_fd, record_name, text, strlen(text), (uid_t) -1,
                                             (gid_t) -1);
                if (q < 0)
                        log_warning_errno(q, "%s: cannot keep the daemon's record %s", s->id, record_name);
        }
        return r;
}

static bool name_taken(Session *s, const char *id)
{
        char name[192];
        struct stat st;

        snprintf(name, sizeof(name), "%s_session.json", id);
        if (fstatat(s->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return true;
        snprintf(name, sizeof(name), "%s_cpu.csv", id);
        if (fstatat(s->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return true;
        snprintf(name, sizeof(name), "%s.json", id);
        return s->env.records_fd >= 0 && fstatat(s->env.records_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* pam_<scenario>_<YYYYMMDD_HHMMSS>, as the seed names its files; -2, -3 ... within the same second. */
int session_pick_id(Session *s)
{
        char stamp[32];
        int r = format_file_stamp(s->start_real, stamp, sizeof(stamp));

        if (r < 0)
                return r;
        snprintf(s->id, sizeof(s->id), "pam_%s_%s", s->o.scenario, stamp);
        for (unsigned n = 2; name_taken(s, s->id); n++) {
                if (n > 99)
                        return -EEXIST;
                snprintf(s->id, sizeof(s->id), "pam_%s_%s-%u", s->o.scenario, stamp, n);
        }
        return 0;
}

int session_create_file(Session *s, const char *key, const char *suffix, int *ret_fd)
{
        SessionFile *f;
        int r;

        if (s->n_files >= ELEMENTSOF(s->files))
                return -ENOBUFS;
        f = &s->files[s->n_files];
        f->key = key;
        snprintf(f->name, sizeof(f->name), "%s_%s", s->id, suffix);
        if (ret_fd) {
                r = create_file_at(s->dir_fd, f->name, s->file_uid, s->file_gid, ret_fd);
                if (r < 0)
                        return r;
        }
        s->n_files++;
        return 0;
}

void session_set_file(Session *s, const char *key, const char *suffix)
{
        (void) session_create_file(s, key, suffix, NULL);
}
