/* SPDX-License-Identifier: MIT */
/* list, show and delete: the recorded sessions, through the store. */
#include "commands-internal.h"

#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "fs-util.h"
#include "log.h"
#include "deletion.h"
#include "records.h"
#include "sort-util.h"

#define LIST_DEFAULT 100

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

void cmd_list(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
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

void cmd_show(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
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

struct PendingDelete {
        Manager *manager;
        Connection *connection; /* a reference: answered when the files are gone, if still there */
        Deletion *deletion;
        uid_t uid;
};

static void pending_delete_free(PendingDelete *pd)
{
        Manager *m = pd->manager;

        for (size_t i = 0; i < ELEMENTSOF(m->deletes); i++)
                if (m->deletes[i] == pd)
                        m->deletes[i] = NULL;
        connection_unref(pd->connection);
        free(pd);
}

static void on_deleted(const DeletionOutcome *out, size_t n, void *userdata)
{
        PendingDelete *pd = userdata;
        const DeletionOutcome *o = &out[0];
        CommandReply reply = { 0 };
        cJSON *r;

        if (o->r == -ENOENT)
                reply_error(&reply, PROTO_E_NOT_FOUND, "No session %s; \"pamprofctl list\" shows them.",
                            o->id);
        else if (o->r < 0)
                reply_error(&reply, PROTO_E_IO, "Cannot delete %s: %s.", o->id, strerror(-o->r));
        else {
                log_notice("Session %s deleted by uid %u (%zu files%s)", o->id, (unsigned) pd->uid,
                           o->removed,
                           o->unreachable ? "; its directory was out of reach, its files stay" : "");
                r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "id", o->id);
                cJSON_AddNumberToObject(r, "files_removed", (double) o->removed);
                cJSON_AddBoolToObject(r, "directory_unreachable", o->unreachable);
                reply_ok(&reply, r);
        }
        reply_send(pd->connection, &reply);
        pending_delete_free(pd);
}

void deletes_cancel(Manager *m)
{
        for (size_t i = 0; i < ELEMENTSOF(m->deletes); i++)
                if (m->deletes[i]) {
                        deletion_free(m->deletes[i]->deletion);
                        pending_delete_free(m->deletes[i]);
                }
}

/* The files go in a child (deletion.h), the record after them; the answer when both are gone. */
void cmd_delete(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply)
{
        _cleanup_close_ int fd = dir_fd;
        const char *id = request_get_string(req, "id", "");
        _cleanup_free_ char *error = NULL;
        const gid_t *groups;
        size_t n = connection_groups(c, &groups), slot;
        PendingDelete *pd;
        int k;

        /* A directory the client opened: only one it may change itself. */
        if (fd >= 0 && !dir_writable_by(fd, connection_uid(c), connection_gid(c), groups, n)) {
                reply_error(reply, PROTO_E_DENIED, "You (uid %u) may not remove files from that directory.",
                            (unsigned) connection_uid(c));
                return;
        }
        k = records_delete_check(m->records_fd, id, m->session ? session_id(m->session) : NULL, &error);
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
        for (slot = 0; slot < ELEMENTSOF(m->deletes) && m->deletes[slot]; slot++)
                ;
        if (slot == ELEMENTSOF(m->deletes)) {
                reply_error(reply, PROTO_E_BUSY, "%zu deletions are under way; try again in a moment.",
                            ELEMENTSOF(m->deletes));
                return;
        }
        pd = calloc(1, sizeof(*pd));
        if (!pd) {
                reply_error(reply, PROTO_E_INTERNAL, "Out of memory.");
                return;
        }
        *pd = (PendingDelete){ .manager = m, .connection = connection_ref(c), .uid = connection_uid(c) };
        k = deletion_start(m->event, m->records_fd, &id, (int[]){ TAKE_FD(fd) }, 1, on_deleted, pd,
                           &pd->deletion);
        if (k < 0) {
                connection_unref(pd->connection);
                free(pd);
                reply_error(reply, PROTO_E_IO, "Cannot delete %s: %s.", id, strerror(-k));
                return;
        }
        m->deletes[slot] = pd;
        reply->deferred = true;
}
