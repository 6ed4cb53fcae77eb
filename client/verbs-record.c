/* SPDX-License-Identifier: MIT */
/* pamprofctl record: start, show progress, Ctrl+C stops (the seed's habit). */
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

/* ---- record ---- */

static void progress_line(const cJSON *s)
{
        const cJSON *last = cJSON_GetObjectItemCaseSensitive(s, "last");
        const cJSON *sum = cJSON_GetObjectItemCaseSensitive(s, "summary");
        char e[32];

        format_seconds(json_number(s, "elapsed_seconds", 0), e, sizeof(e));
        const cJSON *prof = cJSON_GetObjectItemCaseSensitive(s, "profile");
        double cov = json_number(prof, "coverage", NAN);
        char profile[48] = "";

        /* Only when it needs saying: the line must fit a terminal. */
        if (isfinite(cov) && cov < 0.9 && json_number(s, "elapsed_seconds", 0) >= 5)
                snprintf(profile, sizeof(profile), "  profile %.0f %% of it", floor(cov * 100));
        fprintf(stderr,
                "\r\033[K%s  %s  %.0f rows  CPU %.2f %% now, %.2f %% mean (of the machine)  memory %.1f MB%s  "
                "(Ctrl+C stops)",
                json_string(s, "scenario", "?"), e, json_number(s, "rows", 0),
                json_number(last, "cpu_percent", 0), json_number(sum, "cpu_mean", 0),
                json_number(last, "memory_mb", 0), profile);
}

/* The session ended by itself (duration, target gone): fetch and print its record. */
static int record_finished(Ctl *ctl, const char *id)
{
        cJSON *req = protocol_request_new("show");

        cJSON_AddStringToObject(req, "id", id);
        return call_and_print(ctl, req, -1, print_stopped);
}

/*
 * Ctrl+C, or the session is finishing by itself: a stop waits for its files.
 * If it finished between our last look and this stop, its record has them.
 */
static int record_stop(Ctl *ctl, const char *id)
{
        cJSON *req = protocol_request_new("stop"), *root, *body, *res;
        const char *code;
        bool ok;
        int r;

        cJSON_AddStringToObject(req, "id", id);
        if (!ctl->json && isatty(STDERR_FILENO))
                fprintf(stderr, "Stopping; the files are being finished...\n");
        r = ctl_call_quiet(ctl, req, -1, &root, &ok, &body);
        if (r != EXIT_OK)
                return r;
        code = json_string(body, "code", "");
        if (!ok && (strcmp(code, "no-session") == 0 || strcmp(code, "not-found") == 0)) {
                cJSON_Delete(root);
                return record_finished(ctl, id);
        }
        r = ctl_take_reply(ctl, root, ok, body, &root, &res);
        return r != EXIT_OK ? r : print_reply(ctl, root, res, print_stopped);
}

enum { RECORD_ENDED, RECORD_RUNNING, RECORD_STOPPING };

/* RECORD_*, or an exit code negated. */
static int record_poll(Ctl *ctl, const char *id, bool show)
{
        cJSON *root, *res, *s;
        const char *state;
        int r = ctl_call(ctl, protocol_request_new("status"), -1, &root, &res);

        if (r != EXIT_OK)
                return -r;
        s = cJSON_GetObjectItemCaseSensitive(res, "session");
        state = json_string(s, "state", "");
        if (!cJSON_IsObject(s) || strcmp(json_string(s, "id", ""), id) != 0)
                r = RECORD_ENDED;
        else if (strcmp(state, "running") == 0)
                r = RECORD_RUNNING;
        else if (strcmp(state, "stopping") == 0)
                r = RECORD_STOPPING;
        else
                r = RECORD_ENDED;
        if (r == RECORD_RUNNING && show)
                progress_line(s);
        cJSON_Delete(root);
        return r;
}

static int record_loop(Ctl *ctl, const char *id, double interval)
{
        bool tty = isatty(STDERR_FILENO) && !ctl->json;
        sigset_t mask;
        struct pollfd p;
        int sfd, r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        p = (struct pollfd){ .fd = sfd, .events = POLLIN };
        for (;;) {
                r = record_poll(ctl, id, tty);
                if (r < 0) {
                        close(sfd);
                        return -r;
                }
                if (r == RECORD_ENDED) {
                        close(sfd);
                        if (tty)
                                fprintf(stderr, "\n");
                        return record_finished(ctl, id);
                }
                if (r == RECORD_STOPPING)
                        break; /* it ended by itself and is finishing its files: a stop waits for them */
                if (poll(&p, 1, (int) fmax(200, fmin(interval, 1.0) * 1000)) > 0)
                        break; /* Ctrl+C: stop it */
        }
        close(sfd);
        if (tty)
                fprintf(stderr, "\n");
        return record_stop(ctl, id);
}

int verb_record(Ctl *ctl, int argc, char *argv[])
{
        _cleanup_free_ char *id = NULL;
        StartArgs a;
        cJSON *root, *res;
        double interval;
        int r = parse_start(ctl, "record", argc, argv, &a);

        if (r != EXIT_OK)
                return r < 0 ? EXIT_OK : r;
        r = do_start(ctl, "record", &a, &root, &res);
        if (r != EXIT_OK)
                return r;
        id = strdup(json_string(res, "id", ""));
        interval = json_number(res, "interval", 1);
        if (ctl->json)
                ctl_print_json(root);
        else
                print_started(res, isfinite(a.duration));
        fflush(stdout);
        cJSON_Delete(root);
        if (!id)
                return EXIT_REFUSED;
        return record_loop(ctl, id, interval);
}
