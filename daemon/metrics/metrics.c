/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "build-config.h"
#include "child.h"
#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "metrics-text.h"
#include "proc-read.h"
#include "proc-smaps.h"
#include "proc-stat.h"
#include "records.h"

/* The temporary name: same directory, not *.prom, so the collector never reads it. */
#define METRICS_TMP_PREFIX "." METRICS_FILE "."
#define METRICS_TMP_SUFFIX ".tmp"

/* Profiles on disk are counted by reading every record: not at every sample. */
#define PROFILES_EVERY (60 * USEC_PER_SEC)
#define WRITE_TIMEOUT (30 * USEC_PER_SEC)

struct Metrics {
        sd_event *event;
        sd_event_source *timer;
        char *dir;
        char *output_dir;
        int dir_fd;
        int proc_fd, records_fd;
        usec_t interval;
        MetricsStateFunc state;
        void *userdata;

        Child *writer;
        bool again;          /* a write was asked for while the child ran */
        bool failing;        /* the last write failed (said once until one succeeds) */
        usec_t fork_usec;    /* the loop's cost of the last child_start() */
        usec_t profiles_due; /* next walk of the records */
        bool profiles_dirty; /* a session ended: the bytes changed */

        MetricsFigures fig; /* what the daemon counts itself, and the last walk's result */
};

/* What the child is handed, and what it hands back. */
typedef struct WriteJob {
        MetricsFigures fig;
        MetricsState st;
        int proc_fd, dir_fd, records_fd;
        const char *output_dir;
        bool walk_records;
} WriteJob;

typedef struct WriteResult {
        bool have_profile_bytes;
        uint64_t profile_bytes;
        bool have_last_session_end;
        double last_session_end;
        uint64_t write_usec; /* open to rename, in the child */
        uint64_t size;
} WriteResult;

static void pam_figures(const WriteJob *j, MetricsFigures *f)
{
        long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        char path[64], buf[4096];
        uint64_t pss_kb;
        size_t len;
        ProcStat st;

        if (j->st.pam > 0 && proc_stat_read(j->proc_fd, j->st.pam, &st) == 0 && tck > 0) {
                f->have_pam = true;
                f->pam_cpu_user_seconds = (double) st.utime / (double) tck;
                f->pam_cpu_system_seconds = (double) st.stime / (double) tck;
                f->pam_rss_bytes = st.rss * (uint64_t) page;
                f->pam_threads = st.num_threads;
                snprintf(path, sizeof(path), "%d/smaps_rollup", (int) j->st.pam);
                if (proc_read_file(j->proc_fd, path, buf, sizeof(buf), &len) == 0 &&
                    proc_smaps_rollup_parse(buf, len, &pss_kb) == 0) {
                        f->have_pam_pss = true;
                        f->pam_pss_bytes = pss_kb * 1024;
                }
        }
        if (j->st.profiler > 0 && proc_stat_read(j->proc_fd, j->st.profiler, &st) == 0 && tck > 0) {
                f->have_profiler = true;
                f->profiler_cpu_seconds = (double) (st.utime + st.stime) / (double) tck;
                f->profiler_rss_bytes = st.rss * (uint64_t) page;
        }
}

static void count_record(const char *id, cJSON *rec, void *userdata)
{
        WriteResult *res = userdata;
        const cJSON *ended = cJSON_GetObjectItemCaseSensitive(rec, "ended_at_unix");
        int dir_fd = record_open_dir(rec);

        if (dir_fd >= 0) {
                res->profile_bytes += record_files(rec, dir_fd, id);
                close(dir_fd);
        }
        if (cJSON_IsNumber(ended) &&
            (!res->have_last_session_end || ended->valuedouble > res->last_session_end)) {
                res->have_last_session_end = true;
                res->last_session_end = ended->valuedouble;
        }
}

static int write_text(int dir_fd, const char *text, size_t len)
{
        char tmp[64];
        _cleanup_close_ int fd = -1;
        int r = 0;

        snprintf(tmp, sizeof(tmp), METRICS_TMP_PREFIX "%ld" METRICS_TMP_SUFFIX, (long) getpid());
        (void) unlinkat(dir_fd, tmp, 0);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = write_all(fd, text, len);
        if (r >= 0 && fchmod(fd, 0644) < 0) /* whatever the umask: the prometheus user reads it */
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, METRICS_FILE) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dir_fd, tmp, 0);
        return r;
}

/* In the child: gather, format, replace the file. */
static int write_work(void *arg, void *out, char **err)
{
        WriteJob *j = arg;
        WriteResult *res = out;
        MetricsFigures *f = &j->fig;
        char text[METRICS_TEXT_MAX];
        struct statvfs sv;
        usec_t t0;
        int n, r;

        pam_figures(j, f);
        if (j->walk_records && j->records_fd >= 0) {
                res->have_profile_bytes = true;
                (void) records_foreach(j->records_fd, count_record, res);
                f->have_profile_bytes = true;
                f->profile_bytes = res->profile_bytes;
                if (res->have_last_session_end &&
                    (!f->have_last_session_end || res->last_session_end > f->last_session_end)) {
                        f->have_last_session_end = true;
                        f->last_session_end = res->last_session_end;
                }
        }
        if (j->output_dir && statvfs(j->output_dir, &sv) == 0) {
                f->have_free_bytes = true;
                f->free_bytes = (uint64_t) sv.f_bavail * sv.f_frsize;
        }
        n = metrics_text_format(f, text, sizeof(text));
        if (n < 0)
                return n;
        t0 = now(CLOCK_MONOTONIC);
        r = write_text(j->dir_fd, text, (size_t) n);
        res->write_usec = now(CLOCK_MONOTONIC) - t0;
        res->size = (uint64_t) n;
        if (r < 0)
                *err = strdup(strerror(-r));
        return r;
}

static void arm_timer(Metrics *m)
{
        if (sd_event_source_set_time_relative(m->timer, m->interval) >= 0)
                (void) sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

static void on_written(Child *c, const ChildResult *res, void *userdata)
{
        Metrics *m = userdata;
        const WriteResult *w = res->out;

        m->writer = child_free(m->writer);
        if (res->r < 0) {
                if (!m->failing)
                        log_warning("Cannot write %s/%s: %s; retrying every metrics_interval", m->dir,
                                    METRICS_FILE, res->error ? res->error : strerror(-res->r));
                m->failing = true;
        } else {
                if (m->failing)
                        log_info("%s/%s written again", m->dir, METRICS_FILE);
                m->failing = false;
                log_debug("Metrics: %llu bytes written; fork in the loop %llu us, write+fsync+rename in "
                          "the child %llu us",
                          (unsigned long long) w->size, (unsigned long long) m->fork_usec,
                          (unsigned long long) w->write_usec);
        }
        if (w->have_profile_bytes) {
                m->fig.have_profile_bytes = true;
                m->fig.profile_bytes = w->profile_bytes;
        }
        if (w->have_last_session_end &&
            (!m->fig.have_last_session_end || w->last_session_end > m->fig.last_session_end)) {
                m->fig.have_last_session_end = true;
                m->fig.last_session_end = w->last_session_end;
        }
        if (m->again) {
                m->again = false;
                metrics_update(m);
        }
}

void metrics_update(Metrics *m)
{
        WriteJob job;
        usec_t t;
        int fds[3], r;

        if (!m)
                return;
        t = now(CLOCK_MONOTONIC);
        arm_timer(m);
        if (m->writer) {
                m->again = true;
                return;
        }
        job = (WriteJob){ .fig = m->fig,
                          .proc_fd = m->proc_fd,
                          .dir_fd = m->dir_fd,
                          .records_fd = m->records_fd,
                          .output_dir = m->output_dir,
                          .walk_records = m->profiles_dirty || t >= m->profiles_due };
        m->state(m->userdata, &job.st);
        job.fig.pam_restarts = job.st.pam_restarts;
        fds[0] = m->proc_fd;
        fds[1] = m->dir_fd;
        fds[2] = m->records_fd;
        job.fig.version = PACKAGE_VERSION;
        job.fig.pam_up = job.st.pam > 0;
        job.fig.session_running = job.st.session;
        if (job.walk_records) {
                m->profiles_dirty = false;
                m->profiles_due = t + PROFILES_EVERY;
        }
        r = child_start(m->event,
                        &(ChildSpec){ .work = write_work,
                                      .arg = &job,
                                      .out_size = sizeof(WriteResult),
                                      .fds = fds,
                                      .n_fds = 3,
                                      .timeout = WRITE_TIMEOUT },
                        on_written, m, &m->writer);
        m->fork_usec = now(CLOCK_MONOTONIC) - t;
        if (r < 0 && !m->failing) {
                log_warning_errno(r, "Cannot start writing %s/%s", m->dir, METRICS_FILE);
                m->failing = true;
        }
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        metrics_update(userdata);
        return 0;
}

void metrics_set_interval(Metrics *m, usec_t interval)
{
        if (!m || interval == m->interval)
                return;
        m->interval = interval;
        arm_timer(m);
}

void metrics_session_ended(Metrics *m, const char *state)
{
        if (!m)
                return;
        for (int i = 0; i < _METRICS_OUTCOME_MAX; i++)
                if (state && strcmp(state, metrics_outcome_to_string(i)) == 0)
                        m->fig.sessions[i]++;
        m->fig.have_last_session_end = true;
        m->fig.last_session_end = (double) now(CLOCK_REALTIME) / 1e6;
        m->profiles_dirty = true;
        metrics_update(m);
}

void metrics_set_recorder(Metrics *m, bool on)
{
        if (!m || m->fig.recorder_on == on)
                return;
        m->fig.recorder_on = on;
        metrics_update(m);
}

void metrics_capture(Metrics *m, const char *trigger)
{
        if (!m)
                return;
        for (int i = 0; i < _METRICS_TRIGGER_MAX; i++)
                if (trigger && strcmp(trigger, metrics_trigger_to_string(i)) == 0)
                        m->fig.captures[i]++;
        m->profiles_dirty = true;
        metrics_update(m);
}

void metrics_sessions_interrupted(Metrics *m, size_t n)
{
        if (!m || n == 0)
                return;
        for (int i = 0; i < _METRICS_OUTCOME_MAX; i++)
                if (strcmp("interrupted", metrics_outcome_to_string(i)) == 0)
                        m->fig.sessions[i] += n;
        m->profiles_dirty = true;
        metrics_update(m);
}

/* What a child killed mid-write (with the daemon, by its parent-death signal) left behind. */
static void remove_stale_temporaries(int dir_fd)
{
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        DIR *d;

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name), pn = strlen(METRICS_TMP_PREFIX),
                       sn = strlen(METRICS_TMP_SUFFIX);
                if (n > pn + sn && strncmp(de->d_name, METRICS_TMP_PREFIX, pn) == 0 &&
                    strcmp(de->d_name + n - sn, METRICS_TMP_SUFFIX) == 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

int metrics_new(sd_event *e, const MetricsOptions *opts, MetricsStateFunc state, void *userdata,
                Metrics **ret)
{
        Metrics *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->dir_fd = -1;
        m->proc_fd = opts->proc_fd;
        m->records_fd = opts->records_fd;
        m->interval = opts->interval;
        m->state = state;
        m->userdata = userdata;
        m->profiles_dirty = true;
        m->dir = strdup(opts->dir);
        m->output_dir = opts->output_dir ? strdup(opts->output_dir) : NULL;
        if (!m->dir || (opts->output_dir && !m->output_dir)) {
                metrics_free(m);
                return -ENOMEM;
        }
        m->dir_fd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->dir_fd < 0) {
                r = -errno;
                metrics_free(m);
                return r;
        }
        remove_stale_temporaries(m->dir_fd);
        r = sd_event_add_time_relative(e, &m->timer, CLOCK_MONOTONIC, m->interval, USEC_PER_SEC / 10,
                                       on_timer, m);
        if (r < 0) {
                metrics_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Metrics *metrics_free(Metrics *m)
{
        if (!m)
                return NULL;
        child_free(m->writer);
        sd_event_source_disable_unref(m->timer);
        if (m->dir_fd >= 0)
                close(m->dir_fd);
        sd_event_unref(m->event);
        free(m->dir);
        free(m->output_dir);
        free(m);
        return NULL;
}
