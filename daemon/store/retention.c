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
#include "deletion.h"
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
        l->e[l->n].bytes = dir_fd >= 0 ? record_files(rec, dir_fd, id) : 0;
        if (dir_fd >= 0)
                close(dir_fd);
        l->n++;
}

struct Retention {
        sd_event *event;
        int records_fd;
        char running_id[128];
        unsigned keep_sessions, keep_mb;
        Deletion *deletion;
        bool again; /* asked for while a deletion ran: plan once more after it */
        RetentionEntry going[DELETION_MAX];
        RetentionWhy why[DELETION_MAX];
};

Retention *retention_free(Retention *rt)
{
        if (!rt)
                return NULL;
        deletion_free(rt->deletion);
        free(rt);
        return NULL;
}

static void retention_next(Retention *rt);

static void on_deleted(const DeletionOutcome *out, size_t n, void *userdata)
{
        Retention *rt = userdata;

        rt->deletion = NULL; /* freed after this returns */
        for (size_t i = 0; i < n; i++) {
                if (out[i].r < 0) {
                        log_warning_errno(out[i].r, "Retention: cannot remove session %s", out[i].id);
                        continue;
                }
                log_notice("Retention: removed session %s (%zu files, %llu kB): more than %s%s", out[i].id,
                           out[i].removed, (unsigned long long) rt->going[i].bytes / 1024,
                           rt->why[i] == RETENTION_TOO_MANY ? "keep_sessions sessions" : "keep_mb in all",
                           out[i].unreachable
                                   ? "; its directory is out of the daemon's reach, so its files stay there"
                                   : "");
        }
        /* More than one deletion's worth, or asked again meanwhile: the plan is made afresh. */
        if (rt->again || n == DELETION_MAX) {
                rt->again = false;
                retention_next(rt);
        }
}

/* Plans on the records as they are now and starts deleting the first DELETION_MAX to go. */
static void retention_next(Retention *rt)
{
        Entries l = { .running_id = rt->running_id[0] ? rt->running_id : NULL };
        _cleanup_free_ RetentionWhy *why = NULL;
        const char *ids[DELETION_MAX];
        size_t going;
        int r;

        (void) records_foreach(rt->records_fd, list_one, &l);
        qsort_safe(l.e, l.n, sizeof(*l.e), entry_cmp);
        why = calloc(l.n ? l.n : 1, sizeof(*why));
        if (!why) {
                free(l.e);
                return;
        }
        going = retention_plan(l.e, l.n, rt->keep_sessions, (uint64_t) rt->keep_mb * 1024 * 1024, why);
        if (going > DELETION_MAX)
                going = DELETION_MAX;
        for (size_t i = 0; i < going; i++) {
                rt->going[i] = l.e[i];
                rt->why[i] = why[i];
                ids[i] = rt->going[i].id;
        }
        free(l.e);
        if (going == 0)
                return;
        r = deletion_start(rt->event, rt->records_fd, ids, NULL, going, on_deleted, rt, &rt->deletion);
        if (r < 0)
                log_warning_errno(r, "Retention: cannot remove the oldest sessions");
}

int retention_run(Retention **rtp, sd_event *e, int records_fd, const char *running_id,
                  unsigned keep_sessions, unsigned keep_mb)
{
        Retention *rt = *rtp;

        if (!rt) {
                rt = calloc(1, sizeof(*rt));
                if (!rt)
                        return -ENOMEM;
                *rtp = rt;
        }
        *rt = (Retention){ .event = e,
                           .records_fd = records_fd,
                           .keep_sessions = keep_sessions,
                           .keep_mb = keep_mb,
                           .deletion = rt->deletion,
                           .again = rt->deletion != NULL };
        snprintf(rt->running_id, sizeof(rt->running_id), "%s", running_id ? running_id : "");
        if (!rt->deletion)
                retention_next(rt);
        return 0;
}
