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
#include "profile-merge.h"
#include "profiler.h"
#include "records.h"
#include "render.h"
#include "stats.h"

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
        (void) stats_summary_to_json(&sum, rec);
}

struct Recovery {
        int records_fd, staging_fd; /* the manager's; not owned */
        sd_event_source *timer;
        char **ids;
        size_t n;
};

static void write_record(Recovery *rv, int dir_fd, cJSON *rec)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
        const cJSON *sj =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "files"), "session");
        _cleanup_free_ char *text = cJSON_Print(rec), *name = NULL;
        struct stat st;
        int r;

        if (!text || !cJSON_IsString(id) || asprintf(&name, "%s.json", id->valuestring) < 0)
                return;
        r = write_file_atomic_at(rv->records_fd, name, text, strlen(text), (uid_t) -1, (gid_t) -1);
        if (r < 0)
                log_warning_errno(r, "Cannot update the record of interrupted session %s", id->valuestring);
        /* The copy next to the CSV keeps the owner it had. */
        if (dir_fd >= 0 && cJSON_IsString(sj) &&
            fstatat(dir_fd, sj->valuestring, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                (void) write_file_atomic_at(dir_fd, sj->valuestring, text, strlen(text), st.st_uid,
                                            st.st_gid);
}

/* The owner of the session's files, from its CSV (or root). */
static void files_owner(int dir_fd, const char *id, uid_t *uid, gid_t *gid)
{
        char name[256];
        struct stat st;

        *uid = (uid_t) -1;
        *gid = (gid_t) -1;
        snprintf(name, sizeof(name), "%s_session.json", id);
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid != 0) {
                *uid = st.st_uid;
                *gid = st.st_gid;
        }
}

static void add_file(cJSON *rec, const char *key, const char *name)
{
        cJSON *files = cJSON_GetObjectItemCaseSensitive(rec, "files");

        if (!cJSON_IsObject(files))
                return;
        cJSON_DeleteItemFromObjectCaseSensitive(files, key);
        cJSON_AddStringToObject(files, key, name);
}

static void recover_plot(int dir_fd, cJSON *rec, const char *id)
{
        _cleanup_free_ char *error = NULL;
        char name[256];
        PlotStats stats = { 0 };
        uid_t uid;
        gid_t gid;
        int r;

        files_owner(dir_fd, id, &uid, &gid);
        r = render_session_plot(dir_fd, id, uid, gid, 0, &stats, &error);
        if (r == -EEXIST || r >= 0) {
                snprintf(name, sizeof(name), "%s_cpu.png", id);
                add_file(rec, "plot", name);
        } else if (r != -ENODATA)
                log_warning_errno(r, "%s: cannot render the plot of the interrupted session%s%s", id,
                                  error ? ": " : "", error ? error : "");
}

static void recovery_scan(Recovery *rv);

static void recover_one(Recovery *rv, cJSON *rec)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(rec, "output_dir");
        _cleanup_close_ int dir_fd = -1;

        if (!cJSON_IsString(id))
                return;
        set_string(rec, "state", "interrupted");
        set_string(rec, "end_reason",
                   "pamprofd stopped while recording (killed, crashed or power lost); "
                   "rows up to the last interval are kept");
        if (cJSON_IsString(dir)) {
                dir_fd = record_open_dir(rec);
                if (dir_fd >= 0)
                        update_from_csv(rec, dir_fd);
                else
                        log_warning_errno(dir_fd,
                                          "%s: its directory %s cannot be reopened as the same directory; "
                                          "its files there are left as they are",
                                          id->valuestring, dir->valuestring);
        }
        if (dir_fd >= 0)
                recover_plot(dir_fd, rec, id->valuestring);
        write_record(rv, dir_fd, rec);
        log_notice("Session %s was interrupted by a daemon restart; marked so, its files are kept",
                   id->valuestring);
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rec, "profile"))) {
                char **ids = realloc(rv->ids, (rv->n + 1) * sizeof(char *));
                if (ids) {
                        rv->ids = ids;
                        ids[rv->n] = strdup(id->valuestring);
                        if (ids[rv->n])
                                rv->n++;
                }
        }
}

/* The staged runs of session id that py-spy finished writing (on SIGINT from the kernel when we died). */
static size_t staged_runs(Recovery *rv, const char *id, MergeInput *in, size_t max, char names[][256])
{
        size_t n = 0, idlen = strlen(id);
        struct dirent *de;
        DIR *d;
        int fd = openat(rv->staging_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        while ((de = readdir(d)) && n < max) {
                ProfileCheck check;
                int f;

                if (strncmp(de->d_name, id, idlen) != 0 || de->d_name[idlen] != '.' ||
                    !strstr(de->d_name + idlen, ".speedscope.json"))
                        continue;
                f = openat(rv->staging_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (f < 0)
                        continue;
                profile_check_fd(f, &check);
                if (!check.complete) {
                        log_warning("%s: staged profile %s is incomplete (%s); left out", id, de->d_name,
                                    check.reason);
                        close(f);
                        continue;
                }
                snprintf(names[n], 256, "%s", de->d_name);
                in[n++] = (MergeInput){ .fd = f, .pid = 0 };
        }
        closedir(d);
        return n;
}

static void recover_profile(Recovery *rv, const char *id)
{
        _cleanup_close_ int dir_fd = -1, out = -1;
        char file[256], names[16][256];
        MergeInput in[16];
        MergeFacts facts = { 0 };
        cJSON *rec, *prof;
        const cJSON *dir, *sampler;
        char lost[128];
        size_t n;
        uid_t uid;
        gid_t gid;
        int r;

        rec = record_read(rv->records_fd, id);
        if (!rec)
                return;
        dir = cJSON_GetObjectItemCaseSensitive(rec, "output_dir");
        prof = cJSON_GetObjectItemCaseSensitive(rec, "profile");
        sampler = cJSON_GetObjectItemCaseSensitive(prof, "profiler_name");
        facts.sampler = cJSON_IsString(sampler) ? sampler->valuestring : "py-spy";
        (void) profiler_convert_leftovers(rv->staging_fd,
                                          id); /* Austin's text, finished on the kernel's SIGINT */
        n = staged_runs(rv, id, in, 16, names);
        if (cJSON_IsString(dir))
                dir_fd = record_open_dir(rec);
        if (n == 0 || dir_fd < 0 || !cJSON_IsObject(prof)) {
                if (n == 0 && cJSON_IsObject(prof)) {
                        set_string(prof, "state", "lost");
                        snprintf(lost, sizeof(lost),
                                 "the daemon died mid-session and %s left no complete file", facts.sampler);
                        set_string(prof, "reason", lost);
                        write_record(rv, dir_fd, rec);
                }
                goto out;
        }
        files_owner(dir_fd, id, &uid, &gid);
        snprintf(file, sizeof(file), "%s_profile.speedscope.json", id);
        r = create_file_at(dir_fd, file, uid, gid, &out);
        if (r >= 0)
                r = profile_merge(in, n, out, &facts);
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r < 0) {
                log_warning_errno(r, "%s: cannot recover the profile", id);
                unlinkat(dir_fd, file, 0);
                goto out;
        }
        set_string(prof, "state", "recovered");
        set_string(prof, "reason",
                   "the daemon died mid-session; the profiler wrote its file on the kernel's SIGINT "
                   "and it was recovered at the next start");
        set_string(prof, "file", file);
        set_number(prof, "samples", (double) facts.samples);
        add_file(rec, "profile", file);
        write_record(rv, dir_fd, rec);
        for (size_t i = 0; i < n; i++)
                (void) unlinkat(rv->staging_fd, names[i], 0);
        log_notice("%s: recovered the profile of the interrupted session: %s (%zu samples)", id, file,
                   facts.samples);
out:
        for (size_t i = 0; i < n; i++)
                close(in[i].fd);
        cJSON_Delete(rec);
}

static int on_recover_profiles(sd_event_source *s, uint64_t usec, void *userdata)
{
        Recovery *rv = userdata;

        for (size_t i = 0; i < rv->n; i++)
                recover_profile(rv, rv->ids[i]);
        return 0;
}

Recovery *recovery_free(Recovery *r)
{
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->timer);
        for (size_t i = 0; i < r->n; i++)
                free(r->ids[i]);
        free(r->ids);
        free(r);
        return NULL;
}

int recovery_run(sd_event *event, int records_fd, int staging_fd, usec_t stop_timeout, Recovery **ret)
{
        Recovery *rv = calloc(1, sizeof(Recovery));

        if (!rv)
                return -ENOMEM;
        rv->records_fd = records_fd;
        rv->staging_fd = staging_fd;
        recovery_scan(rv);
        /* py-spy got SIGINT when we died and may still be writing: give it stop_timeout. */
        if (rv->n > 0)
                (void) sd_event_add_time_relative(event, &rv->timer, CLOCK_MONOTONIC,
                                                  stop_timeout + USEC_PER_SEC / 2, USEC_PER_SEC / 10,
                                                  on_recover_profiles, rv);
        *ret = rv;
        return 0;
}

static void recover_if_running(const char *id, cJSON *rec, void *userdata)
{
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(rec, "state");

        if (cJSON_IsString(state) &&
            (strcmp(state->valuestring, "running") == 0 || strcmp(state->valuestring, "stopping") == 0))
                recover_one(userdata, rec);
}

static void recovery_scan(Recovery *rv)
{
        (void) records_foreach(rv->records_fd, recover_if_running, rv);
}
