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
#include "manager.h"
#include "records.h"
#include "session.h"
#include "sort-util.h"

typedef struct Entry {
        char id[128];
        double started;
        unsigned long long bytes;
} Entry;

/* Calls f on each of the session's files that exist in its directory. */
static unsigned long long session_files(cJSON *rec, int dir_fd, const char *id, bool unlink_them,
                                        size_t *removed)
{
        const cJSON *f;
        unsigned long long bytes = 0;
        size_t idlen = strlen(id);

        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(rec, "files"))
        {
                struct stat st;
                /* Only names of this session, nothing with a slash: a record cannot point elsewhere. */
                if (!cJSON_IsString(f) || strchr(f->valuestring, '/') ||
                    strncmp(f->valuestring, id, idlen) != 0 || f->valuestring[idlen] != '_')
                        continue;
                if (fstatat(dir_fd, f->valuestring, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                bytes += (unsigned long long) st.st_size;
                if (unlink_them && unlinkat(dir_fd, f->valuestring, 0) == 0 && removed)
                        (*removed)++;
        }
        return bytes;
}

int session_delete(Manager *m, const char *id, int client_dir_fd, size_t *ret_removed, bool *ret_unreachable,
                   char **ret_error)
{
        _cleanup_close_ int dir_fd = -1;
        _cleanup_free_ char *name = NULL;
        cJSON *rec;
        size_t removed = 0;

        *ret_error = NULL;
        *ret_unreachable = false;
        if (m->session && strcmp(session_id(m->session), id) == 0) {
                if (asprintf(ret_error, "Session %s is running; stop it first.", id) < 0)
                        *ret_error = NULL;
                return -EBUSY;
        }
        rec = record_read(m->records_fd, id);
        if (!rec)
                return -ENOENT;
        dir_fd = client_dir_fd >= 0 ? fcntl(client_dir_fd, F_DUPFD_CLOEXEC, 3) : record_open_dir(rec);
        if (dir_fd >= 0)
                (void) session_files(rec, dir_fd, id, true, &removed);
        else
                *ret_unreachable = true;
        cJSON_Delete(rec);
        if (asprintf(&name, "%s.json", id) < 0)
                return -ENOMEM;
        if (unlinkat(m->records_fd, name, 0) < 0)
                return -errno;
        *ret_removed = removed;
        return 0;
}

static int entry_cmp(const void *a, const void *b)
{
        double x = ((const Entry *) a)->started, y = ((const Entry *) b)->started;
        return x < y ? -1 : x > y;
}

typedef struct Entries {
        Manager *manager;
        Entry *e;
        size_t n, cap;
} Entries;

static void list_one(const char *id, cJSON *rec, void *userdata)
{
        Entries *l = userdata;
        const cJSON *started = cJSON_GetObjectItemCaseSensitive(rec, "started_at_unix");
        int dir_fd;

        if (l->manager->session && strcmp(id, session_id(l->manager->session)) == 0)
                return; /* never the running one */
        if (strlen(id) >= sizeof(l->e->id))
                return;
        if (l->n == l->cap) {
                Entry *ne = realloc(l->e, (l->cap = l->cap ? l->cap * 2 : 64) * sizeof(*ne));
                if (!ne)
                        return;
                l->e = ne;
        }
        snprintf(l->e[l->n].id, sizeof(l->e[l->n].id), "%s", id);
        l->e[l->n].started = cJSON_IsNumber(started) ? started->valuedouble : 0;
        dir_fd = record_open_dir(rec);
        l->e[l->n].bytes = dir_fd >= 0 ? session_files(rec, dir_fd, id, false, NULL) : 0;
        if (dir_fd >= 0)
                close(dir_fd);
        l->n++;
}

static size_t list_entries(Manager *m, Entry **ret)
{
        Entries l = { .manager = m };

        (void) records_foreach(m->records_fd, list_one, &l);
        qsort_safe(l.e, l.n, sizeof(*l.e), entry_cmp);
        *ret = l.e;
        return l.n;
}

void retention_apply(Manager *m)
{
        unsigned long long total = 0, limit = (unsigned long long) m->config.keep_mb * 1024 * 1024;
        Entry *e = NULL;
        size_t n = list_entries(m, &e), keep = m->config.keep_sessions;

        for (size_t i = 0; i < n; i++)
                total += e[i].bytes;
        for (size_t i = 0; i < n; i++) {
                bool too_many = keep > 0 && n - i > keep, too_big = limit > 0 && total > limit;
                _cleanup_free_ char *error = NULL;
                size_t removed = 0;
                bool unreachable;

                if (!too_many && !too_big)
                        break;
                if (session_delete(m, e[i].id, -1, &removed, &unreachable, &error) < 0)
                        continue;
                total -= e[i].bytes;
                log_notice(
                        "Retention: removed session %s (%zu files, %llu kB): more than %s%s", e[i].id,
                        removed, e[i].bytes / 1024, too_many ? "keep_sessions sessions" : "keep_mb in all",
                        unreachable ? "; its directory is out of the daemon's reach, so its files stay there"
                                    : "");
        }
        free(e);
}
