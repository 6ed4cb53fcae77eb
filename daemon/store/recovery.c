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
#include "csv-reader.h"
#include "fs-util.h"
#include "log.h"
#include "child.h"
#include "convert-child.h"
#include "merge-child.h"
#include "profiler.h"
#include "records.h"
#include "render.h"
#include "stats.h"

int recovery_csv_tally(FILE *f, size_t *ret_rows, SessionStats *stats, double *ret_last)
{
        _cleanup_(csv_reader_done) CsvReader r;
        int c_t, c_cpu, c_mem, k;
        size_t rows = 0, ncols;

        csv_reader_init(&r, f);
        k = csv_reader_next(&r);
        if (k <= 0)
                return k < 0 ? k : -ENODATA;
        ncols = r.nfields;
        c_t = csv_column(&r, "elapsed_seconds");
        c_cpu = csv_column(&r, "cpu_percent");
        c_mem = csv_column(&r, "memory_mb");
        if (c_t < 0 || c_cpu < 0 || c_mem < 0)
                return -EBADMSG;
        while ((k = csv_reader_next(&r)) > 0) {
                double t, cpu, mem;

                if (r.unterminated)
                        break; /* the row being written when the daemon died */
                /* An empty cell is a figure not measured (the first row's CPU): the row counts. */
                if (r.malformed || r.nfields != ncols || csv_figure(&r, c_t, &t) < 0 ||
                    csv_figure(&r, c_cpu, &cpu) == -EINVAL || csv_figure(&r, c_mem, &mem) == -EINVAL)
                        continue;
                stats_add(stats, t, cpu, mem);
                *ret_last = t;
                rows++;
        }
        if (k < 0)
                return k;
        *ret_rows = rows;
        return 0;
}

/* Rows and summary from the CSV as it reached the disk. */
static int csv_tally(int dir_fd, const char *name, size_t *ret_rows, SessionStats *stats, double *ret_last)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_fclose_ FILE *f = NULL;

        if (fd < 0)
                return -errno;
        f = fdopen(fd, "r");
        if (!f)
                return -errno;
        TAKE_FD(fd);
        return recovery_csv_tally(f, ret_rows, stats, ret_last);
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

/* A session left "running": what is still to do for it on the loop. */
typedef struct RecoveryItem {
        char *id;
        bool plot;    /* its directory was reached: draw its plot */
        bool profile; /* it profiled: collect what the sampler wrote, once it had time to */
} RecoveryItem;

#define RECOVERY_RUNS_MAX 16

struct Recovery {
        sd_event *event;
        int records_fd, staging_fd; /* the manager's; not owned */
        sd_event_source *start, *timer;
        bool profiles_due; /* the samplers had their stop_timeout */
        RecoveryItem *items;
        size_t n;
        /* The one step running, for items[cur]: a plot, a conversion of leftovers, or a merge. */
        size_t cur;
        Render *render;
        Leftovers *leftovers;
        MergeChild *merge;
        Child *remove;  /* the merged runs' removal */
        int dir_fd;     /* the merge's output directory */
        char file[256]; /* the merge's output there */
        char staged[RECOVERY_RUNS_MAX][256];
        size_t n_staged;
        cJSON *threads;
};

static void recovery_next(Recovery *rv);

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

/* The plot of items[cur], drawn: its record says so. */
static void plot_outcome(Recovery *rv, int r, const char *error)
{
        const char *id = rv->items[rv->cur].id;
        _cleanup_close_ int dir_fd = -1;
        char name[256];
        cJSON *rec;

        if (r != -EEXIST && r < 0) {
                if (r != -ENODATA)
                        log_warning_errno(r, "%s: cannot render the plot of the interrupted session%s%s", id,
                                          error ? ": " : "", error ? error : "");
                return;
        }
        rec = record_read(rv->records_fd, id);
        if (!rec)
                return;
        dir_fd = record_open_dir(rec);
        snprintf(name, sizeof(name), "%s_cpu.png", id);
        add_file(rec, "plot", name);
        write_record(rv, dir_fd, rec);
        cJSON_Delete(rec);
}

static void on_plot(int r, const PlotStats *stats, const char *error, void *userdata)
{
        Recovery *rv = userdata;

        rv->render = render_free(rv->render);
        plot_outcome(rv, r, error);
        recovery_next(rv);
}

/* 1 when the render of items[cur] runs, or 0 when it is over already. */
static int plot_start(Recovery *rv)
{
        RecoveryItem *it = &rv->items[rv->cur];
        _cleanup_close_ int dir_fd = -1;
        cJSON *rec = record_read(rv->records_fd, it->id);
        uid_t uid;
        gid_t gid;
        int r;

        it->plot = false;
        dir_fd = rec ? record_open_dir(rec) : -ENOENT;
        cJSON_Delete(rec);
        if (dir_fd < 0)
                return 0;
        files_owner(dir_fd, it->id, &uid, &gid);
        r = render_plot_start(rv->event, dir_fd, it->id, uid, gid, 0, on_plot, rv, &rv->render);
        if (r >= 0)
                return 1;
        plot_outcome(rv, r, NULL);
        return 0;
}

/* The staged runs of session id that py-spy finished writing (on SIGINT from the kernel when we died). */
static size_t staged_runs(Recovery *rv, const char *id, MergeInput *in, size_t max)
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
                snprintf(rv->staged[n], sizeof(rv->staged[0]), "%s", de->d_name);
                in[n++] = (MergeInput){ .fd = f, .pid = 0 };
        }
        closedir(d);
        return n;
}

static const char *sampler_of(const cJSON *prof)
{
        const cJSON *sampler = cJSON_GetObjectItemCaseSensitive(prof, "profiler_name");

        return cJSON_IsString(sampler) ? sampler->valuestring : "py-spy";
}

/* The merge of items[cur] is over (r < 0: it failed): its record says what came of it; true when
 * the staged runs are to go. */
static bool profile_outcome(Recovery *rv, int r, const MergeFacts *facts, const char *error)
{
        const char *id = rv->items[rv->cur].id;
        cJSON *rec = record_read(rv->records_fd, id);
        cJSON *prof = cJSON_GetObjectItemCaseSensitive(rec, "profile");
        bool merged = false;

        if (r < 0) {
                log_warning_errno(r, "%s: cannot recover the profile%s%s", id, error ? ": " : "",
                                  error ? error : "");
                (void) unlinkat(rv->dir_fd, rv->file, 0);
        } else if (cJSON_IsObject(prof)) {
                set_string(prof, "state", "recovered");
                set_string(prof, "reason",
                           "the daemon died mid-session; the profiler wrote its file on the kernel's SIGINT "
                           "and it was recovered at the next start");
                set_string(prof, "file", rv->file);
                set_number(prof, "samples", (double) facts->samples);
                add_file(rec, "profile", rv->file);
                write_record(rv, rv->dir_fd, rec);
                merged = true;
                log_notice("%s: recovered the profile of the interrupted session: %s (%zu samples)", id,
                           rv->file, facts->samples);
        }
        cJSON_Delete(rec);
        return merged;
}

static void on_staged_removed(Child *c, const ChildResult *res, void *userdata)
{
        Recovery *rv = userdata;

        rv->remove = child_free(rv->remove);
        recovery_next(rv);
}

/* The merged runs go, in a child: freeing hundreds of MB takes the kernel a while. */
static void staged_remove(Recovery *rv)
{
        const char *names[RECOVERY_RUNS_MAX];

        for (size_t i = 0; i < rv->n_staged; i++)
                names[i] = rv->staged[i];
        if (child_remove_start(rv->event, rv->staging_fd, names, rv->n_staged, on_staged_removed, rv,
                               &rv->remove) >= 0)
                return;
        for (size_t i = 0; i < rv->n_staged; i++)
                (void) unlinkat(rv->staging_fd, rv->staged[i], 0);
        recovery_next(rv);
}

static void on_merged(int r, const MergeFacts *facts, const char *error, void *userdata)
{
        Recovery *rv = userdata;

        bool merged;

        rv->merge = merge_child_free(rv->merge);
        merged = profile_outcome(rv, r, facts, error);
        cJSON_Delete(rv->threads);
        rv->threads = NULL;
        close(rv->dir_fd);
        rv->dir_fd = -1;
        if (merged)
                staged_remove(rv);
        else
                recovery_next(rv);
}

/* No complete file from the sampler: the record says the profile is lost. */
static void profile_lost(Recovery *rv, cJSON *rec, cJSON *prof)
{
        char lost[128];
        int dir_fd = record_open_dir(rec);

        set_string(prof, "state", "lost");
        snprintf(lost, sizeof(lost), "the daemon died mid-session and %s left no complete file",
                 sampler_of(prof));
        set_string(prof, "reason", lost);
        write_record(rv, dir_fd, rec);
        if (dir_fd >= 0)
                close(dir_fd);
}

/* The merge of items[cur]'s staged runs into its directory, owned by its files' owner. */
static int merge_start(Recovery *rv, cJSON *rec, MergeInput *in, size_t n)
{
        const char *id = rv->items[rv->cur].id;
        _cleanup_close_ int out = -1;
        uid_t uid;
        gid_t gid;
        int r;

        files_owner(rv->dir_fd, id, &uid, &gid);
        snprintf(rv->file, sizeof(rv->file), "%s_profile.speedscope.json", id);
        r = create_file_at(rv->dir_fd, rv->file, uid, gid, &out);
        if (r < 0)
                return r;
        rv->threads = cJSON_CreateArray();
        r = merge_child_start(
                rv->event,
                &(MergeSpec){ .in = in,
                              .n = n,
                              .out_fd = out,
                              .sampler = sampler_of(cJSON_GetObjectItemCaseSensitive(rec, "profile")),
                              .threads = rv->threads,
                              .uid = uid,
                              .gid = gid },
                on_merged, rv, &rv->merge);
        if (r < 0)
                (void) unlinkat(rv->dir_fd, rv->file, 0);
        return r;
}

/* 1 when the merge of items[cur] runs, or 0 when it is over already. */
static int profile_merge_start(Recovery *rv)
{
        const char *id = rv->items[rv->cur].id;
        MergeInput in[RECOVERY_RUNS_MAX];
        cJSON *rec = record_read(rv->records_fd, id);
        cJSON *prof = cJSON_GetObjectItemCaseSensitive(rec, "profile");
        size_t n = staged_runs(rv, id, in, RECOVERY_RUNS_MAX);
        int r = 0;

        rv->n_staged = n;
        rv->dir_fd = rec ? record_open_dir(rec) : -ENOENT;
        if (n == 0 && cJSON_IsObject(prof))
                profile_lost(rv, rec, prof);
        else if (n > 0 && rv->dir_fd >= 0 && cJSON_IsObject(prof)) {
                r = merge_start(rv, rec, in, n);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot recover the profile", id);
        }
        for (size_t i = 0; i < n; i++)
                close(in[i].fd);
        cJSON_Delete(rec);
        if (rv->merge)
                return 1;
        cJSON_Delete(rv->threads);
        rv->threads = NULL;
        if (rv->dir_fd >= 0)
                close(rv->dir_fd);
        rv->dir_fd = -1;
        return 0;
}

static void on_leftovers(size_t converted, void *userdata)
{
        Recovery *rv = userdata;

        rv->leftovers = leftovers_free(rv->leftovers);
        if (profile_merge_start(rv) == 0)
                recovery_next(rv);
}

/* Austin's text, finished on the kernel's SIGINT, converted first; then the merge. */
static int profile_start(Recovery *rv)
{
        RecoveryItem *it = &rv->items[rv->cur];

        it->profile = false;
        if (leftovers_convert_start(rv->event, rv->staging_fd, it->id, on_leftovers, rv, &rv->leftovers) > 0)
                return 1;
        return profile_merge_start(rv);
}

/* One step at a time, plots first, profiles once they are due; each step's end starts the next. */
static void recovery_next(Recovery *rv)
{
        if (rv->render || rv->leftovers || rv->merge || rv->remove)
                return;
        for (rv->cur = 0; rv->cur < rv->n; rv->cur++)
                if (rv->items[rv->cur].plot && plot_start(rv) > 0)
                        return;
        for (rv->cur = 0; rv->profiles_due && rv->cur < rv->n; rv->cur++)
                if (rv->items[rv->cur].profile && profile_start(rv) > 0)
                        return;
}

static void recover_one(Recovery *rv, cJSON *rec)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(rec, "output_dir");
        _cleanup_close_ int dir_fd = -1;
        RecoveryItem *items;

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
        write_record(rv, dir_fd, rec);
        log_notice("Session %s was interrupted by a daemon restart; marked so, its files are kept",
                   id->valuestring);
        items = realloc(rv->items, (rv->n + 1) * sizeof(RecoveryItem));
        if (!items)
                return;
        rv->items = items;
        items[rv->n] = (RecoveryItem){
                .id = strdup(id->valuestring),
                .plot = dir_fd >= 0,
                .profile = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rec, "profile")),
        };
        if (items[rv->n].id)
                rv->n++;
}

static int on_start(sd_event_source *s, void *userdata)
{
        recovery_next(userdata);
        return 0;
}

static int on_profiles_due(sd_event_source *s, uint64_t usec, void *userdata)
{
        Recovery *rv = userdata;

        rv->profiles_due = true;
        recovery_next(rv);
        return 0;
}

Recovery *recovery_free(Recovery *rv)
{
        if (!rv)
                return NULL;
        sd_event_source_disable_unref(rv->start);
        sd_event_source_disable_unref(rv->timer);
        render_free(rv->render);
        leftovers_free(rv->leftovers);
        child_free(rv->remove);
        if (rv->merge) {
                merge_child_free(rv->merge);
                (void) unlinkat(rv->dir_fd, rv->file, 0);
        }
        if (rv->dir_fd >= 0)
                close(rv->dir_fd);
        cJSON_Delete(rv->threads);
        for (size_t i = 0; i < rv->n; i++)
                free(rv->items[i].id);
        free(rv->items);
        free(rv);
        return NULL;
}

static void recover_if_running(const char *id, cJSON *rec, void *userdata)
{
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(rec, "state");

        if (cJSON_IsString(state) &&
            (strcmp(state->valuestring, "running") == 0 || strcmp(state->valuestring, "stopping") == 0))
                recover_one(userdata, rec);
}

int recovery_run(sd_event *event, int records_fd, int staging_fd, usec_t stop_timeout, Recovery **ret)
{
        Recovery *rv = calloc(1, sizeof(Recovery));
        bool profiles = false;
        int r = 0;

        if (!rv)
                return -ENOMEM;
        rv->event = event;
        rv->records_fd = records_fd;
        rv->staging_fd = staging_fd;
        rv->dir_fd = -1;
        (void) records_foreach(records_fd, recover_if_running, rv);
        for (size_t i = 0; i < rv->n; i++)
                profiles |= rv->items[i].profile;
        /* The plots in children, from the loop once it runs. */
        if (rv->n > 0)
                r = sd_event_add_defer(event, &rv->start, on_start, rv);
        /* py-spy got SIGINT when we died and may still be writing: give it stop_timeout. */
        if (r >= 0 && profiles)
                r = sd_event_add_time_relative(event, &rv->timer, CLOCK_MONOTONIC,
                                               stop_timeout + USEC_PER_SEC / 2, USEC_PER_SEC / 10,
                                               on_profiles_due, rv);
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot schedule the plots and profiles of interrupted sessions; "
                                  "their records are marked, their files are left as they are");
        *ret = rv;
        return 0;
}

size_t recovery_interrupted(const Recovery *rv)
{
        return rv ? rv->n : 0;
}
