/* SPDX-License-Identifier: MIT */
/*
 * Where a report's inputs come from and where it goes: pamprofctl report's files (by name, and
 * a session's siblings found from any one of them), and the daemon's descriptors at stop.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

static int open_in(const char *path, int *ret_fd, char **ret_error)
{
        if (!path) {
                *ret_fd = -1;
                return 0;
        }
        *ret_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (*ret_fd < 0) {
                int r = -errno;
                if (ret_error) {
                        free(*ret_error);
                        if (asprintf(ret_error, "cannot open %s: %s", path, strerror(-r)) < 0)
                                *ret_error = NULL;
                }
                return r;
        }
        return 0;
}

static void close_fds(ReportFds *f)
{
        int *v[] = { &f->profile, &f->csv, &f->threads, &f->session };

        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
                if (*v[i] >= 0) {
                        close(*v[i]);
                        *v[i] = -1;
                }
}

static int open_inputs(const ReportInputs *in, ReportFds *ret, char **ret_error)
{
        int r;

        *ret = (ReportFds) REPORT_FDS_INIT;
        ret->label = in->label;
        ret->scenario = in->scenario;
        ret->idle = in->idle;
        ret->profile_name = in->profile;
        if ((r = open_in(in->profile, &ret->profile, ret_error)) < 0 ||
            (r = open_in(in->csv, &ret->csv, ret_error)) < 0 ||
            (r = open_in(in->threads, &ret->threads, ret_error)) < 0 ||
            (r = open_in(in->session, &ret->session, ret_error)) < 0) {
                close_fds(ret);
                return r;
        }
        return 0;
}

int report_run_files(const ReportInputs *in, const ReportInputs *vs, bool json, FILE *out, char **ret_error)
{
        ReportFds a, b;
        cJSON *doc = NULL;
        int r;

        r = open_inputs(in, &a, ret_error);
        if (r < 0)
                return r;
        if (vs && (r = open_inputs(vs, &b, ret_error)) < 0) {
                close_fds(&a);
                return r;
        }
        r = report_build(&a, vs ? &b : NULL, &doc, ret_error);
        close_fds(&a);
        if (vs)
                close_fds(&b);
        if (r < 0)
                return r;
        if (json) {
                char *s = cJSON_Print(doc);
                if (s)
                        fprintf(out, "%s\n", s);
                free(s);
        } else
                report_print_text(doc, out);
        cJSON_Delete(doc);
        return ferror(out) ? -EIO : 0;
}

static int write_all(int fd, const char *s, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, s, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

/* What the record keeps of the report's memory verdict: MB per hour only where it calls a leak. */
static cJSON *memory_verdict(const cJSON *doc)
{
        static const char *const keys[] = { "verdict", "description", "confidence", "fit_seconds" };
        const cJSON *m =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "csv"), "memory");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "verdict");
        cJSON *o;

        if (!cJSON_IsString(v) || !(o = cJSON_CreateObject()))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (cJSON_GetObjectItemCaseSensitive(m, keys[i]))
                        cJSON_AddItemToObject(
                                o, keys[i],
                                cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, keys[i]), true));
        if (strcmp(v->valuestring, "leak") == 0) {
                cJSON_AddItemToObject(
                        o, "mb_per_hour",
                        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "trend_mb_per_hour"), true));
                cJSON_AddItemToObject(
                        o, "ci95_mb_per_hour",
                        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "ci95_mb_per_hour"), true));
        }
        return o;
}

int report_write_fd(const ReportFds *in, int out_txt_fd, int out_json_fd, cJSON **ret_memory,
                    char **ret_error)
{
        cJSON *doc = NULL;
        int r = report_build(in, NULL, &doc, ret_error);

        if (r < 0)
                return r;
        if (ret_memory)
                *ret_memory = memory_verdict(doc);
        if (out_json_fd >= 0) {
                char *s = cJSON_Print(doc);
                r = s ? write_all(out_json_fd, s, strlen(s)) : -ENOMEM;
                if (r == 0)
                        r = write_all(out_json_fd, "\n", 1);
                free(s);
        }
        if (r == 0 && out_txt_fd >= 0) {
                char *text = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&text, &len);
                if (!f)
                        r = -ENOMEM;
                else {
                        report_print_text(doc, f);
                        r = fclose(f) == 0 ? write_all(out_txt_fd, text, len) : -ENOMEM;
                }
                free(text);
        }
        cJSON_Delete(doc);
        return r;
}

static const char *const suffixes[] = { "_profile.speedscope.json",
                                        "_cpu.csv",
                                        "_threads.csv",
                                        "_session.json",
                                        "_report.txt",
                                        "_report.json",
                                        "_cpu.png",
                                        NULL };

void report_paths_done(ReportPaths *p)
{
        free(p->prefix);
        free(p->profile);
        free(p->csv);
        free(p->threads);
        free(p->session);
        memset(p, 0, sizeof(*p));
}

static char *sibling(const char *prefix, const char *suffix)
{
        char *s;

        if (asprintf(&s, "%s%s", prefix, suffix) < 0)
                return NULL;
        if (access(s, F_OK) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

int report_find_siblings(const char *path, ReportPaths *ret)
{
        size_t n = strlen(path);
        ReportPaths p = { 0 };

        for (size_t i = 0; suffixes[i]; i++) {
                size_t m = strlen(suffixes[i]);
                if (n > m && strcmp(path + n - m, suffixes[i]) == 0) {
                        p.prefix = strndup(path, n - m);
                        break;
                }
        }
        if (!p.prefix)
                p.prefix = strdup(path); /* the prefix itself, "DIR/pam_S_T" */
        if (!p.prefix)
                return -ENOMEM;
        p.profile = sibling(p.prefix, "_profile.speedscope.json");
        p.csv = sibling(p.prefix, "_cpu.csv");
        p.threads = sibling(p.prefix, "_threads.csv");
        p.session = sibling(p.prefix, "_session.json");
        *ret = p;
        return 0;
}
