/* SPDX-License-Identifier: MIT */
/*
 * At stop, when pyroscope_url is set: the session's profile as folded stacks (folded.h) into the
 * upload spool, state_dir/upload/, for pamprofd-upload to send to Pyroscope. The profile's names
 * are PAM's and it may be hundreds of MB: an unprivileged child reads it and writes the spool
 * file through the two descriptors the daemon opened for it (child.h). Then, in the loop, the
 * labels and time bounds go beside it (ID.json, written last: the uploader takes a profile by
 * it), and the spool is kept under upload_spool_mb, the oldest dropped first, counted in
 * upload/.dropped and said in the journal. The daemon itself sends nothing: it has no network.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "child.h"
#include "cleanup.h"
#include "folded.h"
#include "fs-util.h"
#include "log.h"
#include "report-classify.h"
#include "session-parts.h"
#include "sort-util.h"
#include "speedscope-read.h"

/* What the spool holds besides its profiles: pamprofd-upload's rejects, and the drop counter. */
#define SPOOL_REJECTED "rejected"
#define SPOOL_DROPPED ".dropped"

typedef struct SpoolJob {
        int profile, out;
        bool leave_idle_out;
} SpoolJob;

struct SessionSpool {
        Session *session;
        Child *child;
        char tmp[300];
        bool cpu;
};

/* A stack that waits (report-classify.h): left out of a CPU profile. */
static bool stack_waits(const SsModel *m, uint32_t node, void *userdata)
{
        return classify_wait(m, node) != WAIT_NONE;
}

/* In the child: no capabilities, not root, the profile and the spool file only. */
static int spool_work(void *arg, void *out, char **err)
{
        const SpoolJob *j = arg;
        FoldedStats *st = out;
        SsModel *m = NULL;
        FILE *f;
        int r;

        r = ss_read_fd(j->profile, &m, err);
        if (r < 0)
                return r;
        f = fdopen(j->out, "w");
        r = f ? folded_write(m, j->leave_idle_out ? stack_waits : NULL, NULL, f, st) : -errno;
        if (r >= 0 && fsync(fileno(f)) < 0)
                r = -errno;
        if (f)
                fclose(f);
        ss_model_free(m);
        return r;
}

SessionSpool *session_spool_free(SessionSpool *sp)
{
        if (!sp)
                return NULL;
        if (sp->child) {
                /* Cut short: no half-written spool file is left. */
                sp->child = child_free(sp->child);
                (void) unlinkat(session_env(sp->session)->upload_fd, sp->tmp, 0);
        }
        free(sp);
        return NULL;
}

typedef struct SpoolEntry {
        int dir; /* upload_fd, or its rejected/ */
        char base[256];
        uint64_t bytes;
        struct timespec mtime;
} SpoolEntry;

static int entry_cmp(const void *a, const void *b)
{
        const SpoolEntry *x = a, *y = b;

        if (x->mtime.tv_sec != y->mtime.tv_sec)
                return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
        if (x->mtime.tv_nsec != y->mtime.tv_nsec)
                return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
        return strcmp(x->base, y->base);
}

/* The profiles in dir (ID.folded with its ID.json, or either alone), added to *list. */
static int spool_list(int dir, SpoolEntry **list, size_t *n, size_t *cap)
{
        _cleanup_close_ int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!d)
                return -errno;
        fd = -1;
        while ((de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');
                struct stat st;
                size_t i, k;

                if (de->d_name[0] == '.' || !dot ||
                    (strcmp(dot, ".folded") != 0 && strcmp(dot, ".json") != 0))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                k = (size_t) (dot - de->d_name);
                for (i = 0; i < *n; i++)
                        if ((*list)[i].dir == dir && strlen((*list)[i].base) == k &&
                            strncmp((*list)[i].base, de->d_name, k) == 0)
                                break;
                if (i == *n) {
                        if (*n == *cap) {
                                SpoolEntry *p = reallocarray(*list, *cap * 2 + 16, sizeof(*p));
                                if (!p) {
                                        closedir(d);
                                        return -ENOMEM;
                                }
                                *list = p;
                                *cap = *cap * 2 + 16;
                        }
                        (*list)[(*n)++] = (SpoolEntry){ .dir = dir };
                        snprintf((*list)[i].base, sizeof((*list)[i].base), "%.*s", (int) k, de->d_name);
                }
                (*list)[i].bytes += (uint64_t) st.st_size;
                if (entry_cmp(&(SpoolEntry){ .mtime = st.st_mtim },
                              &(SpoolEntry){ .mtime = (*list)[i].mtime }) > 0)
                        (*list)[i].mtime = st.st_mtim; /* the later of its two files */
        }
        closedir(d);
        return 0;
}

static void entry_remove(const SpoolEntry *e)
{
        char name[300];

        snprintf(name, sizeof(name), "%s.folded", e->base);
        (void) unlinkat(e->dir, name, 0);
        snprintf(name, sizeof(name), "%s.json", e->base);
        (void) unlinkat(e->dir, name, 0);
}

/* upload/.dropped: how many profiles the bound dropped before they were sent, ever. */
static uint64_t dropped_add(int upload, uint64_t k)
{
        _cleanup_free_ char *text = NULL;
        uint64_t n = 0;
        char buf[32];

        if (read_file_at(upload, SPOOL_DROPPED, 64, &text, NULL) >= 0)
                n = strtoull(text, NULL, 10);
        n += k;
        snprintf(buf, sizeof(buf), "%" PRIu64 "\n", n);
        (void) write_file_atomic_at(upload, SPOOL_DROPPED, buf, strlen(buf), (uid_t) -1, (gid_t) -1);
        return n;
}

/* The spool within upload_spool_mb: the oldest profiles go first, sent or rejected alike. */
static void spool_bound(Session *s, const char *kept)
{
        const SessionEnv *env = session_env(s);
        uint64_t max = (uint64_t) env->upload_spool_mb << 20, total = 0, ever;
        _cleanup_close_ int rejected =
                openat(env->upload_fd, SPOOL_REJECTED, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_free_ SpoolEntry *list = NULL;
        size_t n = 0, cap = 0, dropped = 0;
        char first[256] = "";

        if (spool_list(env->upload_fd, &list, &n, &cap) < 0 ||
            (rejected >= 0 && spool_list(rejected, &list, &n, &cap) < 0))
                return;
        qsort_safe(list, n, sizeof(*list), entry_cmp);
        for (size_t i = 0; i < n; i++)
                total += list[i].bytes;
        for (size_t i = 0; i < n && total > max; i++) {
                /* The new one alone over the bound goes, not everything before it. */
                bool self = list[i].dir == env->upload_fd && strcmp(list[i].base, kept) == 0;
                if (self && list[i].bytes <= max)
                        continue;
                if (!first[0])
                        snprintf(first, sizeof(first), "%s", list[i].base);
                entry_remove(&list[i]);
                total -= list[i].bytes;
                dropped++;
        }
        if (dropped == 0)
                return;
        ever = dropped_add(env->upload_fd, dropped);
        log_warning("%s: the upload spool passed upload_spool_mb (%u MB): the %zu oldest profiles "
                    "(from %s) were dropped unsent, %" PRIu64 " in all; is pyroscope_url reachable?",
                    session_id(s), env->upload_spool_mb, dropped, first, ever);
}

static int write_labels(Session *s, const FoldedStats *st, bool cpu)
{
        const SessionOptions *o = session_options(s);
        _cleanup_free_ char *text = NULL;
        char host[256] = "", name[300];
        cJSON *j = cJSON_CreateObject(), *labels = cJSON_AddObjectToObject(j, "labels");
        bool pyspy = strcmp(o->profiler, "austin") != 0;

        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
                snprintf(host, sizeof(host), "unknown");
        cJSON_AddStringToObject(j, "name", cpu ? "pam.cpu" : "pam.wall");
        cJSON_AddStringToObject(labels, "host", host);
        cJSON_AddStringToObject(labels, "scenario", o->scenario);
        cJSON_AddStringToObject(labels, "sampler", pyspy ? "py-spy" : "austin");
        cJSON_AddNumberToObject(j, "from", (double) (session_start_real(s) / USEC_PER_SEC));
        cJSON_AddNumberToObject(j, "until",
                                (double) ((session_end_real(s) + USEC_PER_SEC - 1) / USEC_PER_SEC));
        cJSON_AddNumberToObject(j, "sampleRate", o->rate);
        cJSON_AddStringToObject(j, "spyName", pyspy ? "pyspy" : "austin");
        cJSON_AddStringToObject(j, "session", session_id(s));
        cJSON_AddNumberToObject(j, "samples", (double) st->samples);
        cJSON_AddNumberToObject(j, "stacks", (double) st->lines);
        cJSON_AddNumberToObject(j, "idle_samples_left_out", (double) st->skipped);
        cJSON_AddNumberToObject(j, "stacks_cut", (double) st->cut_stacks);
        text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!text)
                return -ENOMEM;
        snprintf(name, sizeof(name), "%s.json", session_id(s));
        return write_file_atomic_at(session_env(s)->upload_fd, name, text, strlen(text), (uid_t) -1,
                                    (gid_t) -1);
}

static void on_spooled(Child *c, const ChildResult *res, void *userdata)
{
        SessionSpool *sp = userdata;
        Session *s = sp->session;
        const FoldedStats *st = res->out;
        int dir = session_env(s)->upload_fd, r = res->r;
        char name[300];

        sp->child = child_free(sp->child);
        snprintf(name, sizeof(name), "%s.folded", session_id(s));
        if (r >= 0 && st->lines == 0) {
                log_notice("%s: nothing to send to Pyroscope: the profile has no samples%s", session_id(s),
                           sp->cpu ? " outside waits" : "");
                r = 0;
        } else if (r >= 0) {
                /* The folded stacks under their name, then the labels: the uploader goes by ID.json. */
                r = renameat(dir, sp->tmp, dir, name) < 0 ? -errno : write_labels(s, st, sp->cpu);
                if (r < 0)
                        (void) unlinkat(dir, name, 0);
        }
        if (r >= 0 && st->lines > 0) {
                log_info("%s: spooled for Pyroscope: %" PRIu64 " samples in %" PRIu64 " stacks, %" PRIu64
                         " KB; %" PRIu64 " idle samples left out; %" PRIu64
                         " stacks cut at the root side to fit a 64 KiB line",
                         session_id(s), st->samples, st->lines, st->bytes >> 10, st->skipped,
                         st->cut_stacks);
                spool_bound(s, session_id(s));
        } else if (r < 0)
                log_warning_errno(r, "%s: not spooled for Pyroscope%s%s", session_id(s),
                                  res->error ? ": " : "", res->error ? res->error : "");
        (void) unlinkat(dir, sp->tmp, 0);
        session_spooled(s);
}

SessionSpool *session_spool(Session *s)
{
        const SessionEnv *env = session_env(s);
        SpoolJob job = { .profile = -1, .out = -1, .leave_idle_out = !session_options(s)->idle };
        char profile[300];
        SessionSpool *sp;
        int r;

        if (!env->upload)
                return NULL;
        snprintf(profile, sizeof(profile), "%s_profile.speedscope.json", session_id(s));
        job.profile = openat(session_dir_fd(s), profile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (job.profile < 0)
                return NULL; /* no profile, nothing to send */
        sp = calloc(1, sizeof(*sp));
        if (!sp) {
                close(job.profile);
                return NULL;
        }
        sp->session = s;
        sp->cpu = job.leave_idle_out;
        snprintf(sp->tmp, sizeof(sp->tmp), ".%s.folded", session_id(s));
        (void) unlinkat(env->upload_fd, sp->tmp, 0); /* a crash's leftover */
        r = create_file_at(env->upload_fd, sp->tmp, (uid_t) -1, (gid_t) -1, &job.out);
        if (r >= 0)
                r = child_start(session_event_loop(s),
                                &(ChildSpec){ .work = spool_work,
                                              .arg = &job,
                                              .out_size = sizeof(FoldedStats),
                                              .unprivileged = true,
                                              .uid = (uid_t) -1,
                                              .gid = (gid_t) -1,
                                              .fds = (int[]){ job.profile, job.out },
                                              .n_fds = 2,
                                              .timeout = MERGE_TIMEOUT },
                                on_spooled, sp, &sp->child);
        close(job.profile);
        if (job.out >= 0)
                close(job.out);
        if (r < 0) {
                log_warning_errno(r, "%s: not spooled for Pyroscope", session_id(s));
                (void) unlinkat(env->upload_fd, sp->tmp, 0);
                free(sp);
                return NULL;
        }
        return sp;
}
