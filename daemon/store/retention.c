/* SPDX-License-Identifier: MIT */
#include "retention.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "records.h"
#include "sort-util.h"

static int entry_cmp(const void *a, const void *b)
{
        double x = ((const RetentionEntry *) a)->started, y = ((const RetentionEntry *) b)->started;
        return x < y ? -1 : x > y;
}

size_t retention_plan(const RetentionEntry *e, size_t n, unsigned keep_sessions, uint64_t keep_bytes,
                      RetentionWhy *ret_why)
{
        uint64_t total = 0;
        size_t going = 0;

        for (size_t i = 0; i < n; i++) {
                total += e[i].bytes;
                ret_why[i] = RETENTION_KEEP;
        }
        for (size_t i = 0; i < n; i++) {
                bool too_many = keep_sessions > 0 && n - i > keep_sessions;
                bool too_big = keep_bytes > 0 && total > keep_bytes;

                if (!too_many && !too_big)
                        break;
                ret_why[i] = too_many ? RETENTION_TOO_MANY : RETENTION_TOO_BIG;
                total -= e[i].bytes;
                going++;
        }
        return going;
}

typedef struct Entries {
        const char *running_id;
        RetentionEntry *e;
        size_t n, cap;
} Entries;

static void list_one(const char *id, cJSON *rec, void *userdata)
{
        Entries *l = userdata;
        const cJSON *started = cJSON_GetObjectItemCaseSensitive(rec, "started_at_unix");
        int dir_fd;

        if (l->running_id && strcmp(id, l->running_id) == 0)
                return; /* never the running one */
        if (strlen(id) >= sizeof(l->e->id))
                return;
        if (l->n == l->cap) {
                RetentionEntry *ne = realloc(l->e, (l->cap = l->cap ? l->cap * 2 : 64) * sizeof(*ne));
                if (!ne)
                        return;
                l->e = ne;
        }
        snprintf(l->e[l->n].id, sizeof(l->e[l->n].id), "%s", id);
        l->e[l->n].started = cJSON_IsNumber(started) ? started->valuedouble : 0;
        dir_fd = record_open_dir(rec);
        l->e[l->n].bytes = dir_fd >= 0 ? record_files(rec, dir_fd, id, false, NULL) : 0;
        if (dir_fd >= 0)
                close(dir_fd);
        l->n++;
}

void retention_apply(int records_fd, const char *running_id, unsigned keep_sessions, unsigned keep_mb)
{
        Entries l = { .running_id = running_id };
        _cleanup_free_ RetentionWhy *why = NULL;
        size_t going;

        (void) records_foreach(records_fd, list_one, &l);
        qsort_safe(l.e, l.n, sizeof(*l.e), entry_cmp);
        why = calloc(l.n ? l.n : 1, sizeof(*why));
        if (!why) {
                free(l.e);
                return;
        }
        going = retention_plan(l.e, l.n, keep_sessions, (uint64_t) keep_mb * 1024 * 1024, why);
        for (size_t i = 0; i < going; i++) {
                _cleanup_free_ char *error = NULL;
                size_t removed = 0;
                bool unreachable;

                if (records_delete(records_fd, l.e[i].id, running_id, -1, &removed, &unreachable, &error) <
                    0)
                        continue;
                log_notice("Retention: removed session %s (%zu files, %llu kB): more than %s%s", l.e[i].id,
                           removed, (unsigned long long) l.e[i].bytes / 1024,
                           why[i] == RETENTION_TOO_MANY ? "keep_sessions sessions" : "keep_mb in all",
                           unreachable
                                   ? "; its directory is out of the daemon's reach, so its files stay there"
                                   : "");
        }
        free(l.e);
}
