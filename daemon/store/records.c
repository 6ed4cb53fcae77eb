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
#include "fs-util.h"

cJSON *record_read(int records_fd, const char *id)
{
        _cleanup_free_ char *name = NULL, *text = NULL;

        if (asprintf(&name, "%s.json", id) < 0 ||
            read_file_at(records_fd, name, RECORD_FILE_MAX, &text, NULL) < 0)
                return NULL;
        return cJSON_Parse(text);
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
