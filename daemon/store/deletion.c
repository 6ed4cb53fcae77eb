/* SPDX-License-Identifier: MIT */
#include "deletion.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "cleanup.h"
#include "records.h"

typedef struct Item {
        int dir_fd;   /* -1: out of reach */
        char **names; /* its files, as its record names them */
        size_t n_names;
} Item;

struct Deletion {
        int records_fd;
        Child *child;
        DeletionDoneFunc done;
        void *userdata;
        size_t n;
        Item items[DELETION_MAX];
        DeletionOutcome out[DELETION_MAX];
};

Deletion *deletion_free(Deletion *d)
{
        if (!d)
                return NULL;
        child_free(d->child);
        for (size_t i = 0; i < d->n; i++) {
                if (d->items[i].dir_fd >= 0)
                        close(d->items[i].dir_fd);
                for (size_t k = 0; k < d->items[i].n_names; k++)
                        free(d->items[i].names[k]);
                free(d->items[i].names);
        }
        free(d);
        return NULL;
}

static void on_removed(Child *c, const ChildResult *res, void *userdata)
{
        Deletion *d = userdata;
        const RemoveCounts *counts = res->out;
        size_t k = 0;

        d->child = child_free(d->child);
        for (size_t i = 0; i < d->n; i++) {
                DeletionOutcome *o = &d->out[i];
                char name[160];

                if (o->r < 0)
                        continue; /* no record to begin with */
                if (res->r < 0 && d->items[i].dir_fd >= 0) {
                        o->r = res->r; /* the child failed: the record stays, to name what is left */
                        continue;
                }
                if (d->items[i].dir_fd >= 0 && counts)
                        o->removed = counts->removed[k++];
                snprintf(name, sizeof(name), "%s.json", o->id);
                if (unlinkat(d->records_fd, name, 0) < 0)
                        o->r = -errno;
        }
        d->done(d->out, d->n, d->userdata);
        deletion_free(d);
}

/* Reads id's record and the names of its files in its directory (opened here unless given). */
static void item_prepare(Deletion *d, size_t i, const char *id, int dir_fd)
{
        DeletionOutcome *o = &d->out[i];
        Item *it = &d->items[i];
        cJSON *rec;

        snprintf(o->id, sizeof(o->id), "%s", id);
        it->dir_fd = -1;
        rec = record_read(d->records_fd, id);
        if (!rec) {
                o->r = -ENOENT;
                if (dir_fd >= 0)
                        close(dir_fd);
                return;
        }
        it->dir_fd = dir_fd >= 0 ? dir_fd : record_open_dir(rec);
        if (it->dir_fd < 0) {
                it->dir_fd = -1;
                o->unreachable = true;
        } else if (record_file_names(rec, it->dir_fd, id, &it->names, &it->n_names) < 0) {
                close(it->dir_fd);
                it->dir_fd = -1;
                o->unreachable = true;
        }
        cJSON_Delete(rec);
}

int deletion_start(sd_event *e, int records_fd, const char *const *ids, const int *dir_fds, size_t n,
                   DeletionDoneFunc done, void *userdata, Deletion **ret)
{
        Deletion *d;
        RemoveSet sets[DELETION_MAX];
        size_t n_sets = 0;
        int r;

        if (n > DELETION_MAX)
                return -E2BIG;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (Deletion){ .records_fd = records_fd, .done = done, .userdata = userdata, .n = n };
        for (size_t i = 0; i < n; i++) {
                item_prepare(d, i, ids[i], dir_fds ? dir_fds[i] : -1);
                if (d->items[i].dir_fd >= 0)
                        sets[n_sets++] = (RemoveSet){ .dir_fd = d->items[i].dir_fd,
                                                      .names = (const char *const *) d->items[i].names,
                                                      .n = d->items[i].n_names };
        }
        /* Even with nothing to remove, the records go from the child's done, as always. */
        r = child_remove_sets_start(e, sets, n_sets, on_removed, d, &d->child);
        if (r < 0) {
                deletion_free(d);
                return r;
        }
        *ret = d;
        return 0;
}
