/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * `pamprofctl report`: the seed's Interpretation Guide, done by the tool.
 * From a session's files -- the py-spy profile (_profile.speedscope.json),
 * _cpu.csv, _threads.csv and _session.json, any of them optional but one
 * of the first two -- it makes a ranked list of findings, each with the
 * thread, the function (file:line) and the numbers behind it, and where
 * to look in speedscope, followed by the threads, the hot code and the CPU
 * and memory figures. One JSON document holds it all (--json prints it);
 * the text for people is drawn from the same document.
 *
 * The profile is read streaming (speedscope-read.h): a 100 MB profile
 * takes well under a second and a few tens of MB.
 */

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

/* A session's files by descriptor (-1: absent). The report reads them; the caller closes them. */
typedef struct ReportFds {
        int profile, csv, threads, session;
        const char *label;        /* what the report is about; NULL: the session's id */
        const char *scenario;     /* NULL: the session's, or the label's pam_<scenario>_<stamp> */
        int idle;                 /* idle-scenario rules: 1 on, 0 off, -1 when the scenario starts "idle" */
        const char *profile_name; /* the profile's name in messages (its path); NULL: "the profile" */
} ReportFds;

#define REPORT_FDS_INIT                                                            \
        {                                                                          \
                .profile = -1, .csv = -1, .threads = -1, .session = -1, .idle = -1 \
        }

/* The same by path (NULL: absent). */
typedef struct ReportInputs {
        const char *profile, *csv, *threads, *session;
        const char *label, *scenario;
        int idle;
} ReportInputs;

/*
 * Builds the report; vs (NULL: none) is another session to compare with.
 * 0 and *ret; -EBADMSG with *ret_error when a file is not what it should
 * be (the profile is required to be a speedscope file when given; a bad
 * CSV or session file is only a warning in the report); -EINVAL when
 * neither a profile nor a CPU CSV is given; -ENOMEM.
 */
int report_build(const ReportFds *in, const ReportFds *vs, cJSON **ret, char **ret_error);

/* The text for people, from report_build's document; control characters but the newline, which
 * PAM's names may hold, are printed as '?'. */
void report_print_text(const cJSON *report, FILE *out);

/* Opens the files, builds, prints text or JSON to out. 0 or -errno with *ret_error. */
int report_run_files(const ReportInputs *in, const ReportInputs *vs, bool json, FILE *out, char **ret_error);

/*
 * For the daemon at stop: writes the text to out_txt_fd and the JSON to
 * out_json_fd (either may be -1), fully, without closing them. It reads
 * the whole profile: run it off the event loop. With ret_memory, the
 * memory's verdict too, as the report judged it (its "csv.memory": verdict,
 * description, confidence and, for a leak, MB per hour), for the record;
 * NULL when the report has none.
 */
int report_write_fd(const ReportFds *in, int out_txt_fd, int out_json_fd, cJSON **ret_memory,
                    char **ret_error);

/*
 * Siblings of a seed-named file: given any of pam_S_T_profile.speedscope.json,
 * pam_S_T_cpu.csv, pam_S_T_threads.csv, pam_S_T_session.json (or the
 * prefix pam_S_T itself), the paths of the four that exist. Strings are
 * malloc'd; free with report_paths_done.
 */
typedef struct ReportPaths {
        char *prefix, *profile, *csv, *threads, *session;
} ReportPaths;

int report_find_siblings(const char *path, ReportPaths *ret);
void report_paths_done(ReportPaths *p);
