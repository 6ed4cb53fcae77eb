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

unsigned long long record_files(const cJSON *rec, int dir_fd, const char *id, bool unlink_them,
                                size_t *removed)
{
        const cJSON *f;
        unsigned long long bytes = 0;
        size_t idlen = strlen(id);

        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(rec, "files"))
        {
                struct stat st;

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

int records_delete(int records_fd, const char *id, const char *running_id, int client_dir_fd,
                   size_t *ret_removed, bool *ret_unreachable, char **ret_error)
{
        _cleanup_close_ int dir_fd = -1;
        _cleanup_free_ char *name = NULL;
        cJSON *rec;
        size_t removed = 0;

        *ret_error = NULL;
        *ret_unreachable = false;
        if (running_id && strcmp(running_id, id) == 0) {
                if (asprintf(ret_error, "Session %s is running; stop it first.", id) < 0)
                        *ret_error = NULL;
                return -EBUSY;
        }
        rec = record_read(records_fd, id);
        if (!rec)
                return -ENOENT;
        dir_fd = client_dir_fd >= 0 ? fcntl(client_dir_fd, F_DUPFD_CLOEXEC, 3) : record_open_dir(rec);
        if (dir_fd >= 0)
                (void) record_files(rec, dir_fd, id, true, &removed);
        else
                *ret_unreachable = true;
        cJSON_Delete(rec);
        if (asprintf(&name, "%s.json", id) < 0)
                return -ENOMEM;
        if (unlinkat(records_fd, name, 0) < 0)
                return -errno;
        *ret_removed = removed;
        return 0;
}
