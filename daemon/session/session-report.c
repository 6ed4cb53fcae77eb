/* SPDX-License-Identifier: MIT */
/*
 * At stop: _report.txt and _report.json next to the other files, from the
 * merged profile and the CSVs (common/report.c, pamprofctl report's code).
 * It reads the whole profile, so it runs in a short-lived child (child.h),
 * unprivileged, with the descriptors the daemon opened for it; the loop
 * goes on meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "report.h"
#include "session-parts.h"

typedef struct ReportJob {
        ReportFds in;
        int txt, json;
} ReportJob;

/* What the child says back: the report's memory verdict for the record, as JSON text. */
typedef struct ReportOut {
        char memory[2048];
} ReportOut;

struct SessionReport {
        Session *session;
        Child *child;
        char txt[256], json[256];
};

static int report_work(void *arg, void *out, char **err)
{
        ReportJob *j = arg;
        ReportOut *o = out;
        cJSON *memory = NULL;
        int r = report_write_fd(&j->in, j->txt, j->json, &memory, err);
        char *text = memory ? cJSON_PrintUnformatted(memory) : NULL;

        if (text && strlen(text) < sizeof(o->memory))
                strcpy(o->memory, text);
        free(text);
        cJSON_Delete(memory);
        if (r >= 0 && (fsync(j->txt) < 0 || fsync(j->json) < 0))
                r = -errno;
        return r;
}

static int open_part(Session *s, const char *suffix)
{
        char name[256];

        snprintf(name, sizeof(name), "%s_%s", session_id(s), suffix);
        return openat(session_dir_fd(s), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

SessionReport *session_report_free(SessionReport *rp)
{
        if (!rp)
                return NULL;
        if (rp->child) {
                /* Cut short: no half-written report is left. */
                rp->child = child_free(rp->child);
                (void) unlinkat(session_dir_fd(rp->session), rp->txt, 0);
                (void) unlinkat(session_dir_fd(rp->session), rp->json, 0);
        }
        free(rp);
        return NULL;
}

static void on_reported(Child *c, const ChildResult *res, void *userdata)
{
        SessionReport *rp = userdata;
        Session *s = rp->session;
        const ReportOut *o = res->out;
        cJSON *memory = NULL;

        /* from an unprivileged child that read PAM's data: within its bounds, an object or nothing */
        if (res->r >= 0 && o) {
                memory = cJSON_ParseWithLength(o->memory, strnlen(o->memory, sizeof(o->memory)));
                if (!cJSON_IsObject(memory))
                        memory = (cJSON_Delete(memory), NULL);
        }
        rp->child = child_free(rp->child);
        if (res->r < 0) {
                log_warning_errno(res->r, "%s: no report%s%s", session_id(s), res->error ? ": " : "",
                                  res->error ? res->error : "");
                (void) unlinkat(session_dir_fd(s), rp->txt, 0);
                (void) unlinkat(session_dir_fd(s), rp->json, 0);
        } else {
                session_set_file(s, "report_txt", "report.txt");
                session_set_file(s, "report_json", "report.json");
        }
        session_reported(s, memory);
}

static void report_close(ReportJob *job)
{
        for (int *fd = &job->in.profile; fd <= &job->in.session; fd++)
                if (*fd >= 0)
                        close(*fd);
        if (job->txt >= 0)
                close(job->txt);
        if (job->json >= 0)
                close(job->json);
}

/* Creates the two files and starts the child on them; -errno (the files gone) when it cannot. */
static int report_start(SessionReport *rp, ReportJob *job)
{
        Session *s = rp->session;
        int dir = session_dir_fd(s), r;

        snprintf(rp->txt, sizeof(rp->txt), "%s_report.txt", session_id(s));
        snprintf(rp->json, sizeof(rp->json), "%s_report.json", session_id(s));
        r = create_file_at(dir, rp->txt, session_file_uid(s), session_file_gid(s), &job->txt);
        if (r >= 0)
                r = create_file_at(dir, rp->json, session_file_uid(s), session_file_gid(s), &job->json);
        if (r >= 0)
                r = child_start(session_event_loop(s),
                                &(ChildSpec){ .work = report_work,
                                              .arg = job,
                                              .unprivileged = true,
                                              .uid = session_file_uid(s),
                                              .gid = session_file_gid(s),
                                              .fds = (int[]){ job->in.profile, job->in.csv, job->in.threads,
                                                              job->in.session, job->txt, job->json },
                                              .n_fds = 6,
                                              .out_size = sizeof(ReportOut) },
                                on_reported, rp, &rp->child);
        if (r < 0) {
                if (job->txt >= 0)
                        (void) unlinkat(dir, rp->txt, 0);
                if (job->json >= 0)
                        (void) unlinkat(dir, rp->json, 0);
        }
        return r;
}

SessionReport *session_report(Session *s)
{
        ReportJob job = { .in = REPORT_FDS_INIT, .txt = -1, .json = -1 };
        SessionReport *rp;
        int r;

        job.in.profile = open_part(s, "profile.speedscope.json");
        job.in.csv = open_part(s, "cpu.csv");
        job.in.threads = open_part(s, "threads.csv");
        job.in.session = open_part(s, "session.json");
        job.in.label = session_id(s);
        job.in.scenario = session_options(s)->scenario;
        if (job.in.profile < 0 && job.in.csv < 0) {
                report_close(&job);
                return NULL;
        }
        rp = calloc(1, sizeof(*rp));
        r = rp ? (rp->session = s, report_start(rp, &job)) : -ENOMEM;
        report_close(&job);
        if (r < 0) {
                log_warning_errno(r, "%s: no report", session_id(s));
                free(rp);
                return NULL;
        }
        return rp;
}
