/* SPDX-License-Identifier: MIT */
/*
 * The monitor part: samples the target on absolute deadlines (start + k *
 * interval, so there is no drift over hours; a late wake-up still gets the
 * real elapsed time in the CPU maths) and appends one row per sample to
 * _cpu.csv with a single write, so a crash loses at most one interval.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "sampler.h"
#include "session-parts.h"

typedef struct Monitor {
        Session *session;
        Sampler *sampler;
        Sampler *profiler; /* the profiler child's own cost */
        pid_t profiler_pid;
        int csv_fd;
        int threads_fd;
        sd_event_source *timer;
        usec_t interval;
        size_t rows;
        size_t thread_rows;
        usec_t next_disk_check;
        SampleRow last;
        bool have_last;
        SessionStats stats;
} Monitor;

static int write_line(Monitor *mon, int fd, const char *line, size_t len, const char *what)
{
        off_t before = lseek(fd, 0, SEEK_CUR);
        int r = write_all(fd, line, len);

        if (r < 0) {
                /* ENOSPC or EIO half-way: cut back to the last whole row, so every reader can use the file. */
                if (before >= 0)
                        (void) ftruncate(fd, before);
                session_fail(mon->session, r, what);
                return r;
        }
        return 0;
}

static int monitor_write_threads(Monitor *mon, double elapsed)
{
        const ThreadSample *t;
        size_t n = sampler_threads(mon->sampler, &t);
        char buf[16384];
        size_t len = 0;

        /* One write per sample here too, batched in a buffer. */
        for (size_t i = 0; i < n; i++) {
                int k = thread_row_format(elapsed, &t[i], buf + len, sizeof(buf) - len);
                if (k < 0) {
                        if (write_line(mon, mon->threads_fd, buf, len, "writing _threads.csv") < 0)
                                return -EIO;
                        len = 0;
                        k = thread_row_format(elapsed, &t[i], buf, sizeof(buf));
                        if (k < 0)
                                continue;
                }
                len += (size_t) k;
        }
        mon->thread_rows += n;
        return len ? write_line(mon, mon->threads_fd, buf, len, "writing _threads.csv") : 0;
}

/* The profiler's own CPU and memory, in the same row: the seed's "it adds 30-40 %" becomes a figure. */
static void monitor_profiler_figures(Monitor *mon, usec_t t, SampleRow *row)
{
        pid_t pid = session_profiler_pid(mon->session);
        SampleRow prow;

        row->profiler_cpu_percent = row->profiler_rss_mb = NAN;
        if (!mon->profiler || pid <= 0) {
                mon->profiler_pid = 0;
                return;
        }
        if (pid != mon->profiler_pid) {
                /* A new run: its CPU since it started, in this row already (a restarted run's first
                 * interval was left empty). */
                mon->profiler_pid = sampler_attach_since_start(mon->profiler, pid, t) == 0 ? pid : 0;
                if (!mon->profiler_pid)
                        return;
        }
        if (sampler_sample(mon->profiler, t, &prow) == 0) {
                row->profiler_cpu_percent = prow.cpu_percent;
                row->profiler_rss_mb = prow.memory_mb;
        }
}

static void monitor_take_sample(Monitor *mon, usec_t t)
{
        Session *s = mon->session;
        SampleRow row;
        char line[1024];
        int r, len;

        if (sampler_pid(mon->sampler) == 0)
                return;
        r = sampler_sample(mon->sampler, t, &row);
        if (r == -ESRCH || r == -ESTALE)
                return; /* gone (the watcher reports it) or a new baseline */
        if (r < 0) {
                log_warning_errno(r, "%s: sampling pid %d failed", session_id(s),
                                  (int) sampler_pid(mon->sampler));
                return;
        }
        monitor_profiler_figures(mon, t, &row);
        row.elapsed = (double) (t - session_start_mono(s)) / 1e6;
        row.realtime = now(CLOCK_REALTIME);
        len = sample_row_format(&row, line, sizeof(line));
        if (len < 0)
                return;
        if (write_line(mon, mon->csv_fd, line, (size_t) len, "writing _cpu.csv") < 0)
                return;
        mon->rows++;
        mon->last = row;
        mon->have_last = true;
        stats_add(&mon->stats, row.elapsed, row.cpu_percent, row.memory_mb);
        if (mon->threads_fd >= 0)
                (void) monitor_write_threads(mon, row.elapsed);
        /* systemctl status follows the rows; this wake-up happens anyway. */
        session_changed(s);
}

/* Below the configured floor the session stops cleanly, before a write can fail half-way. */
static void monitor_check_disk(Monitor *mon, usec_t t)
{
        const SessionEnv *m = session_env(mon->session);
        uint64_t free_mb;
        char reason[160];

        struct stat st;

        if (t < mon->next_disk_check)
                return;
        mon->next_disk_check = t + 5 * USEC_PER_SEC;
        if (fstat(session_dir_fd(mon->session), &st) == 0 && st.st_nlink == 0) {
                session_event(mon->session, "output-removed", 0, "the output directory was removed");
                session_stop(mon->session, "the output directory was removed while recording", NULL, NULL);
                return;
        }
        if (disk_free_mb(session_dir_fd(mon->session), &free_mb) < 0 || free_mb >= m->min_free_mb)
                return;
        snprintf(reason, sizeof(reason),
                 "only %" PRIu64 " MB left free on the output filesystem (min_free_mb %u)", free_mb,
                 m->min_free_mb);
        session_event(mon->session, "disk-low", 0, "%s", reason);
        session_stop(mon->session, reason, NULL, NULL);
}

static int on_sample_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        Monitor *mon = userdata;
        usec_t start = session_start_mono(mon->session), t = now(CLOCK_MONOTONIC);
        uint64_t k;

        monitor_take_sample(mon, t);
        if (session_state(mon->session) == SESSION_RUNNING)
                monitor_check_disk(mon, t);
        if (session_state(mon->session) != SESSION_RUNNING)
                return 0;
        /* The next deadline on the session's grid, skipping any we overslept. */
        k = (t - start) / mon->interval + 1;
        sd_event_source_set_time(src, start + k * mon->interval);
        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static int monitor_open_files(Monitor *mon, Session *s)
{
        char header[512];
        int r;

        r = session_create_file(s, "cpu_csv", "cpu.csv", &mon->csv_fd);
        if (r < 0)
                return r;
        snprintf(header, sizeof(header), "%s\n", sample_csv_header);
        r = write_all(mon->csv_fd, header, strlen(header));
        if (r < 0)
                return r;
        if (!session_env(s)->threads)
                return 0;
        r = session_create_file(s, "threads_csv", "threads.csv", &mon->threads_fd);
        if (r < 0)
                return r;
        snprintf(header, sizeof(header), "%s\n", thread_csv_header);
        return write_all(mon->threads_fd, header, strlen(header));
}

static void monitor_free(void *state);

static int monitor_start(Session *s, void **ret_state)
{
        const SessionEnv *m = session_env(s);
        Monitor *mon;
        SamplerOptions so = {
                .proc_fd = m->proc_fd,
                .include_children = session_options(s)->include_children,
                .threads = m->threads,
                .pss_interval = m->pss_interval,
        };
        int r;

        mon = calloc(1, sizeof(*mon));
        if (!mon)
                return -ENOMEM;
        mon->session = s;
        mon->csv_fd = mon->threads_fd = -1;
        mon->interval = session_options(s)->interval;
        stats_init(&mon->stats);

        r = monitor_open_files(mon, s);
        if (r < 0)
                goto fail;
        r = sampler_new(&so, &mon->sampler);
        if (r < 0)
                goto fail;
        if (session_options(s)->profile) {
                SamplerOptions po = { .proc_fd = m->proc_fd };
                r = sampler_new(&po, &mon->profiler);
                if (r < 0)
                        goto fail;
        }
        /* The baseline: the first row then covers a whole interval, not a meaningless zero. */
        if (session_target_pid(s) > 0)
                (void) sampler_attach(mon->sampler, session_target_pid(s), session_start_mono(s));
        r = sd_event_add_time(session_event_loop(s), &mon->timer, CLOCK_MONOTONIC,
                              session_start_mono(s) + mon->interval, USEC_PER_MSEC, on_sample_timer, mon);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_enabled(mon->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                goto fail;
        *ret_state = mon;
        return 0;
fail:
        monitor_free(mon);
        return r;
}

static void monitor_target_changed(Session *s, void *state, pid_t old_pid, pid_t new_pid)
{
        Monitor *mon = state;

        if (new_pid == 0)
                sampler_detach(mon->sampler);
        else
                (void) sampler_attach(mon->sampler, new_pid, now(CLOCK_MONOTONIC));
}

static void monitor_close(Monitor *mon, int *fd, const char *what)
{
        if (*fd < 0)
                return;
        if (fsync(*fd) < 0 && errno != EINVAL)
                log_warning_errno(errno, "%s: fsync of %s failed", session_id(mon->session), what);
        close(*fd);
        *fd = -1;
}

static void monitor_stop(Session *s, void *state)
{
        Monitor *mon = state;

        mon->timer = sd_event_source_disable_unref(mon->timer);
        monitor_close(mon, &mon->csv_fd, "_cpu.csv");
        monitor_close(mon, &mon->threads_fd, "_threads.csv");
        session_part_stopped(s, mon);
}

static void monitor_describe(Session *s, void *state, cJSON *into)
{
        Monitor *mon = state;
        StatsSummary sum;
        cJSON *o;

        cJSON_AddNumberToObject(into, "rows", (double) mon->rows);
        stats_summary(&mon->stats, &sum);
        (void) stats_summary_to_json(&sum, into);
        if (!mon->have_last)
                return;
        o = cJSON_AddObjectToObject(into, "last");
        if (o) {
                stats_json_number(o, "elapsed_seconds", mon->last.elapsed);
                stats_json_number(o, "cpu_percent", mon->last.cpu_percent);
                stats_json_number(o, "cpu_core_percent", mon->last.cpu_core_percent);
                stats_json_number(o, "memory_mb", mon->last.memory_mb);
                stats_json_number(o, "memory_percent", mon->last.memory_percent);
                cJSON_AddNumberToObject(o, "threads", mon->last.threads);
                cJSON_AddNumberToObject(o, "pid", mon->last.pid);
        }
}

static void monitor_free(void *state)
{
        Monitor *mon = state;

        if (!mon)
                return;
        sd_event_source_disable_unref(mon->timer);
        if (mon->csv_fd >= 0)
                close(mon->csv_fd);
        if (mon->threads_fd >= 0)
                close(mon->threads_fd);
        sampler_free(mon->sampler);
        sampler_free(mon->profiler);
        free(mon);
}

const SessionPartOps monitor_part_ops = {
        .name = "CPU and memory monitor",
        .start = monitor_start,
        .target_changed = monitor_target_changed,
        .stop = monitor_stop,
        .describe = monitor_describe,
        .free = monitor_free,
};
