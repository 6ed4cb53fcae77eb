/* SPDX-License-Identifier: MIT */
#include "recovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#include "stats.h"

/* Opens an absolute directory path one component at a time, refusing any symlink on the way. */
static int open_dir_nofollow(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        char *save = NULL, *part;
        int fd;

        if (!copy)
                return -ENOMEM;
        if (path[0] != '/')
                return -EINVAL;
        fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                int next;

                if (strcmp(part, "..") == 0) {
                        close(fd);
                        return -EINVAL;
                }
                next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                if (next < 0)
                        return -errno;
                fd = next;
        }
        return fd;
}

/* Rows and summary from the CSV as it reached the disk. */
static int csv_tally(int dir_fd, const char *name, size_t *ret_rows, SessionStats *stats, double *ret_last)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_fclose_ FILE *f = NULL;
        char line[2048];
        size_t rows = 0;

        if (fd < 0)
                return -errno;
        f = fdopen(fd, "r");
        if (!f)
                return -errno;
        TAKE_FD(fd);
        if (!fgets(line, sizeof(line), f))
                return -ENODATA;
        while (fgets(line, sizeof(line), f)) {
                double t, cpu, mem;
                if (!strchr(line, '\n'))
                        break; /* the row being written when the daemon died */
                if (sscanf(line, "%lf,%lf,%lf,", &t, &cpu, &mem) != 3)
                        continue;
                stats_add(stats, t, cpu, mem);
                *ret_last = t;
                rows++;
        }
        *ret_rows = rows;
        return 0;
}

static void set_number(cJSON *o, const char *key, double v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        if (isfinite(v))
                cJSON_AddNumberToObject(o, key, round(v * 1000) / 1000);
        else
                cJSON_AddNullToObject(o, key);
}

static void set_string(cJSON *o, const char *key, const char *v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        cJSON_AddStringToObject(o, key, v);
}

static void update_from_csv(cJSON *rec, int dir_fd)
{
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(rec, "files");
        const cJSON *csv = cJSON_GetObjectItemCaseSensitive(files, "cpu_csv");
        SessionStats stats;
        StatsSummary sum;
        cJSON *summary;
        size_t rows = 0;
        double last = NAN;

        if (!cJSON_IsString(csv))
                return;
        stats_init(&stats);
        if (csv_tally(dir_fd, csv->valuestring, &rows, &stats, &last) < 0)
                return;
        stats_summary(&stats, &sum);
        set_number(rec, "rows", (double) rows);
        if (isfinite(last))
                set_number(rec, "duration_seconds", last);
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "summary");
        summary = cJSON_AddObjectToObject(rec, "summary");
        if (!summary)
                return;
        cJSON_AddNumberToObject(summary, "samples", (double) sum.samples);
        set_number(summary, "cpu_mean", sum.cpu_mean);
        set_number(summary, "cpu_p95", sum.cpu_p95);
        set_number(summary, "cpu_max", sum.cpu_max);
        set_number(summary, "memory_start_mb", sum.memory_start_mb);
        set_number(summary, "memory_end_mb", sum.memory_end_mb);
        set_number(summary, "memory_max_mb", sum.memory_max_mb);
        set_number(summary, "memory_growth_mb_per_hour", sum.memory_growth_mb_per_hour);
}

static void recover_one(Manager *m, const char *record_name, cJSON *rec)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(rec, "output_dir");
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(rec, "files");
        const cJSON *sj = cJSON_GetObjectItemCaseSensitive(files, "session");
        _cleanup_close_ int dir_fd = -1;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        int r;

        if (!cJSON_IsString(id))
                return;
        set_string(rec, "state", "interrupted");
        set_string(rec, "end_reason", "pamprofd stopped while recording (killed, crashed or power lost); "
                                      "rows up to the last interval are kept");
        if (cJSON_IsString(dir)) {
                dir_fd = open_dir_nofollow(dir->valuestring);
                if (dir_fd >= 0)
                        update_from_csv(rec, dir_fd);
        }
        text = cJSON_Print(rec);
        if (!text)
                return;
        r = write_file_atomic_at(m->records_fd, record_name, text, strlen(text), (uid_t) -1, (gid_t) -1);
        if (r < 0)
                log_warning_errno(r, "Cannot update the record of interrupted session %s", id->valuestring);
        /* The copy next to the CSV keeps the owner it had. */
        if (dir_fd >= 0 && cJSON_IsString(sj) && fstatat(dir_fd, sj->valuestring, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode))
                (void) write_file_atomic_at(dir_fd, sj->valuestring, text, strlen(text), st.st_uid, st.st_gid);
        log_notice("Session %s was interrupted by a daemon restart; marked so, its files are kept",
                   id->valuestring);
}

void recovery_run(Manager *m)
{
        struct dirent *de;
        DIR *d;
        int fd = openat(m->records_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *text = NULL;
                const cJSON *state;
                size_t len = strlen(de->d_name);
                cJSON *rec;

                if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
                        continue;
                if (read_file_at(m->records_fd, de->d_name, 4 * 1024 * 1024, &text, NULL) < 0)
                        continue;
                rec = cJSON_Parse(text);
                state = cJSON_GetObjectItemCaseSensitive(rec, "state");
                if (cJSON_IsString(state) &&
                    (strcmp(state->valuestring, "running") == 0 || strcmp(state->valuestring, "stopping") == 0))
                        recover_one(m, de->d_name, rec);
                cJSON_Delete(rec);
        }
        closedir(d);
}
