/* SPDX-License-Identifier: MIT */
/*
 * At stop: _report.txt and _report.json next to the other files, from the
 * merged profile and the CSVs (common/report.c, pamprofctl report's code).
 * It reads the whole profile, so it runs in a short-lived child (child.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

static int report_work(void *arg, void *out, char **err)
{
        ReportJob *j = arg;

        return report_write_fd(&j->in, j->txt, j->json, err);
}

static int open_part(Session *s, const char *suffix)
{
        char name[256];

        snprintf(name, sizeof(name), "%s_%s", session_id(s), suffix);
        return openat(session_dir_fd(s), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

void session_report(Session *s)
{
        _cleanup_free_ char *error = NULL;
        char txt_name[256], json_name[256];
        ReportJob job = { .in = REPORT_FDS_INIT, .txt = -1, .json = -1 };
        int dir = session_dir_fd(s), dummy = 0, r;

        job.in.profile = open_part(s, "profile.speedscope.json");
        job.in.csv = open_part(s, "cpu.csv");
        job.in.threads = open_part(s, "threads.csv");
        job.in.session = open_part(s, "session.json");
        job.in.label = session_id(s);
        job.in.scenario = session_options(s)->scenario;
        if (job.in.profile < 0 && job.in.csv < 0)
                goto out;
        snprintf(txt_name, sizeof(txt_name), "%s_report.txt", session_id(s));
        snprintf(json_name, sizeof(json_name), "%s_report.json", session_id(s));
        r = create_file_at(dir, txt_name, session_file_uid(s), session_file_gid(s), &job.txt);
        if (r >= 0)
                r = create_file_at(dir, json_name, session_file_uid(s), session_file_gid(s), &job.json);
        if (r >= 0)
                r = child_run_unprivileged(session_file_uid(s), session_file_gid(s), report_work, &job,
                                           &dummy, sizeof(dummy), &error);
        if (r >= 0 && (fsync(job.txt) < 0 || fsync(job.json) < 0))
                r = -errno;
        if (r < 0) {
                log_warning_errno(r, "%s: no report%s%s", session_id(s), error ? ": " : "",
                                  error ? error : "");
                if (job.txt >= 0)
                        unlinkat(dir, txt_name, 0);
                if (job.json >= 0)
                        unlinkat(dir, json_name, 0);
                goto out;
        }
        session_set_file(s, "report_txt", "report.txt");
        session_set_file(s, "report_json", "report.json");
out:
        for (int *fd = &job.in.profile; fd <= &job.in.session; fd++)
                if (*fd >= 0)
                        close(*fd);
        if (job.txt >= 0)
                close(job.txt);
        if (job.json >= 0)
                close(job.json);
}
