/* SPDX-License-Identifier: MIT */
#include "records.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "protocol.h"
#include "fs-util.h"

cJSON *record_read(int records_fd, const char *id)
{
        _cleanup_free_ char *name = NULL, *text = NULL;

        if (asprintf(&name, "%s.json", id) < 0 ||
            read_file_at(records_fd, name, RECORD_FILE_MAX, &text, NULL) < 0)
                return NULL;
        return cJSON_Parse(text);
}

int record_fit(cJSON *rec, size_t max)
{
        static const struct {
                const char *object, *key, *said; /* object NULL: the record itself */
        } cuts[] = {
                { NULL, "events", "events" },
                { "profile", "runs", "profile.runs" },
                { "profile", "last_output", "profile.last_output" },
                { "profile", "threads", "profile.threads" },
                { "target", "cmdline", "target.cmdline" },
        };
        cJSON *trimmed = cJSON_GetObjectItemCaseSensitive(rec, "trimmed");

        for (size_t i = 0; protocol_json_size(rec) > max; i++) {
                cJSON *in;

                if (i == ELEMENTSOF(cuts))
                        return -E2BIG;
                in = cuts[i].object ? cJSON_GetObjectItemCaseSensitive(rec, cuts[i].object) : rec;
                if (!cJSON_GetObjectItemCaseSensitive(in, cuts[i].key))
                        continue;
                cJSON_DeleteItemFromObjectCaseSensitive(in, cuts[i].key);
                if (!trimmed)
                        trimmed = cJSON_AddArrayToObject(rec, "trimmed");
                cJSON_AddItemToArray(trimmed, cJSON_CreateString(cuts[i].said));
        }
        return 0;
}

int records_foreach(int records_fd, RecordFunc fn, void *userdata)
{
        struct dirent *de;
        DIR *d;
        int fd = openat(records_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || !(d = fdopendir(fd))) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char id[256];
                cJSON *rec;

                if (de->d_name[0] == '.' || len < 6 || len - 5 >= sizeof(id) ||
                    strcmp(de->d_name + len - 5, ".json") != 0)
                        continue;
                snprintf(id, sizeof(id), "%.*s", (int) (len - 5), de->d_name);
                rec = record_read(records_fd, id);
                if (!rec)
                        continue;
                fn(id, rec, userdata);
                cJSON_Delete(rec);
        }
        closedir(d);
        return 0;
}

int record_open_dir(const cJSON *rec)
{
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(rec, "output_dir");
        const cJSON *dev = cJSON_GetObjectItemCaseSensitive(rec, "output_dir_dev");
        const cJSON *ino = cJSON_GetObjectItemCaseSensitive(rec, "output_dir_ino");
        struct stat st;
        int fd;

        if (!cJSON_IsString(dir) || !cJSON_IsNumber(dev) || !cJSON_IsNumber(ino))
                return -ENOENT;
        fd = open_dir_nofollow(dir->valuestring);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0 || (double) st.st_dev != dev->valuedouble ||
            (double) st.st_ino != ino->valuedouble) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

/* Calls fn for each regular file of the session's recorded files in dir_fd. */
static int record_each_file(const cJSON *rec, int dir_fd, const char *id,
                            int (*fn)(const char *name, const struct stat *st, void *userdata),
                            void *userdata)
{
        const cJSON *f;
        size_t idlen = strlen(id);
        int r;

        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(rec, "files"))
        {
                struct stat st;

                if (!cJSON_IsString(f) || strchr(f->valuestring, '/') ||
                    strncmp(f->valuestring, id, idlen) != 0 || f->valuestring[idlen] != '_')
                        continue;
                if (fstatat(dir_fd, f->valuestring, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = fn(f->valuestring, &st, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_bytes(const char *name, const struct stat *st, void *userdata)
{
        *(unsigned long long *) userdata += (unsigned long long) st->st_size;
        return 0;
}

unsigned long long record_files(const cJSON *rec, int dir_fd, const char *id)
{
        unsigned long long bytes = 0;

        (void) record_each_file(rec, dir_fd, id, add_bytes, &bytes);
        return bytes;
}

typedef struct Names {
        char **v;
        size_t n;
} Names;

static int add_name(const char *name, const struct stat *st, void *userdata)
{
        Names *l = userdata;
        char **v = reallocarray(l->v, l->n + 1, sizeof(char *));

        if (!v)
                return -ENOMEM;
        l->v = v;
        if (!(l->v[l->n] = strdup(name)))
                return -ENOMEM;
        l->n++;
        return 0;
}

int record_file_names(const cJSON *rec, int dir_fd, const char *id, char ***ret_names, size_t *ret_n)
{
        Names l = { 0 };
        int r = record_each_file(rec, dir_fd, id, add_name, &l);

        if (r < 0) {
                for (size_t i = 0; i < l.n; i++)
                        free(l.v[i]);
                free(l.v);
                return r;
        }
        *ret_names = l.v;
        *ret_n = l.n;
        return 0;
}

int records_delete_check(int records_fd, const char *id, const char *running_id, char **ret_error)
{
        _cleanup_free_ char *name = NULL;

        *ret_error = NULL;
        if (running_id && strcmp(running_id, id) == 0) {
                if (asprintf(ret_error, "Session %s is running; stop it first.", id) < 0)
                        *ret_error = NULL;
                return -EBUSY;
        }
        if (asprintf(&name, "%s.json", id) < 0)
                return -ENOMEM;
        return faccessat(records_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 ? -ENOENT : 0;
}
