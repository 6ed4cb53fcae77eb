/* SPDX-License-Identifier: MIT */
/* pamprofctl list, show and delete: the recorded sessions. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "build-config.h"
#include "cleanup.h"
#include "protocol.h"
#include "verbs-internal.h"

/* ---- list / show ---- */

int verb_list(Ctl *ctl, int argc, char *argv[])
{
        static const struct option opts[] = { COMMON_OPTIONS,
                                              { "limit", required_argument, NULL, OPT_LIMIT },
                                              { 0 } };
        cJSON *req, *root, *res, *it;
        double limit = NAN;
        int c, shown, r = EXIT_OK;

        while ((c = getopt_long(argc, argv, "hn:", opts, NULL)) >= 0) {
                if (c == 'h') {
                        printf("Usage: pamprofctl list [--limit N] [--json] [--socket PATH]\n\n"
                               "List recorded sessions, oldest first (the last 100 unless --limit).\n");
                        return EXIT_OK;
                }
                if (c == OPT_LIMIT || c == 'n') {
                        r = parse_positive("list", "--limit", optarg, 1, 1000, &limit);
                        if (r != EXIT_OK)
                                return r;
                        continue;
                }
                if (common_option(ctl, c, "list", &r) && r != EXIT_OK)
                        return r;
        }
        if (optind < argc)
                return usage_error("list", "unexpected argument \"%s\".", argv[optind]);
        req = protocol_request_new("list");
        if (isfinite(limit))
                cJSON_AddNumberToObject(req, "limit", floor(limit));
        r = ctl_call(ctl, req, -1, &root, &res);
        if (r != EXIT_OK)
                return r;
        if (ctl->json) {
                ctl_print_json(root);
                cJSON_Delete(root);
                return EXIT_OK;
        }
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(res, "sessions")) == 0)
                printf("No sessions recorded yet. Start one with: pamprofctl start --scenario NAME\n");
        else
                printf("%-48s %-12s %-29s %10s %7s\n", "ID", "STATE", "STARTED", "DURATION", "ROWS");
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "sessions"))
        {
                char d[32];
                format_seconds(json_number(it, "duration_seconds", 0), d, sizeof(d));
                printf("%-48s %-12s %-29.29s %10s %7.0f\n", json_string(it, "id", "?"),
                       json_string(it, "state", "?"), json_string(it, "started_at", "?"), d,
                       json_number(it, "rows", 0));
        }
        shown = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(res, "sessions"));
        if (json_number(res, "total", shown) > shown)
                printf("The newest %d of %.0f sessions%s.\n", shown, json_number(res, "total", shown),
                       isfinite(limit) && shown < limit ? ", as many as one answer holds"
                                                        : "; --limit N lists more");
        cJSON_Delete(root);
        return EXIT_OK;
}

int verb_show(Ctl *ctl, int argc, char *argv[])
{
        int r = parse_common_only(ctl, argc, argv, "show",
                                  "Usage: pamprofctl show ID [--json] [--socket PATH]\n\n"
                                  "Show one session's record: options, target, summary, events, files.\n");
        cJSON *req;

        if (r >= 0)
                return r;
        if (optind + 1 != argc)
                return usage_error("show", "needs exactly one session ID (see \"pamprofctl list\").");
        req = protocol_request_new("show");
        cJSON_AddStringToObject(req, "id", argv[optind]);
        return call_and_print(ctl, req, -1, print_record);
}

int verb_delete(Ctl *ctl, int argc, char *argv[])
{
        cJSON *req, *root, *res;
        const char *dir;
        int fd,
                r = parse_common_only(
                        ctl, argc, argv, "delete",
                        "Usage: pamprofctl delete ID [--json] [--socket PATH]\n\n"
                        "Remove a recorded session: its files (found from its record, by name) and "
                        "the\ndaemon's record. Not the running one.\n");

        if (r >= 0)
                return r;
        if (optind + 1 != argc)
                return usage_error("delete", "needs exactly one session ID (see \"pamprofctl list\").");
        /* Open the session's directory here, as the user: a sandboxed daemon may not reach it by path. */
        req = protocol_request_new("show");
        cJSON_AddStringToObject(req, "id", argv[optind]);
        r = ctl_call(ctl, req, -1, &root, &res);
        if (r != EXIT_OK)
                return r;
        dir = json_string(res, "output_dir", NULL);
        fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        cJSON_Delete(root);
        req = protocol_request_new("delete");
        cJSON_AddStringToObject(req, "id", argv[optind]);
        r = ctl_call(ctl, req, fd, &root, &res);
        if (fd >= 0)
                close(fd);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                ctl_print_json(root);
        else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "directory_unreachable")))
                printf("Deleted the record of %s; its directory could not be opened, so its files are still "
                       "there.\n",
                       json_string(res, "id", "?"));
        else
                printf("Deleted %s (%.0f files).\n", json_string(res, "id", "?"),
                       json_number(res, "files_removed", 0));
        cJSON_Delete(root);
        return EXIT_OK;
}
