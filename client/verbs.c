/* SPDX-License-Identifier: MIT */
/*
 * pamprofctl's verbs, table-driven (systemd's *ctl tools, bgpctl): each verb
 * parses its own options, makes its requests, and prints either text for a
 * person or, with --json, the daemon's replies for a script. This file holds
 * the table and what every verb shares: options, usage errors, replies.
 */
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
#include "cmd-plot.h"
#include "cmd-report.h"
#include "verbs-internal.h"
#include "verbs.h"

volatile sig_atomic_t verbs_interrupted;

int usage_error(const char *verb, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "pamprofctl %s: ", verb);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'pamprofctl %s --help'.\n", verb);
        return EXIT_USAGE;
}

/* Common options; returns 1 if handled, 0 if not ours, or an exit code via *ret. */
bool common_option(Ctl *ctl, int c, const char *verb, int *ret)
{
        switch (c) {
        case OPT_JSON:
                ctl->json = true;
                return true;
        case OPT_SOCKET:
                ctl->socket = optarg;
                return true;
        case '?':
                *ret = usage_error(verb, "unknown or incomplete option.");
                return true;
        }
        return false;
}

/* A number option of start, in the range the protocol table gives its field: one table, both ends. */
int parse_start_field(const char *verb, const char *opt, const char *field, const char *s, double *ret)
{
        const FieldSpec *f = protocol_field(CMD_START, field);

        assert(f);
        return parse_positive(verb, opt, s, f->min, f->max, ret);
}

int parse_positive(const char *verb, const char *opt, const char *s, double lo, double hi, double *ret)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
                return usage_error(verb, "%s needs a number from %.10g to %.10g, not \"%s\".", opt, lo, hi,
                                   s);
        *ret = v;
        return 0;
}

/*
 * The verbs that take only the common options and positional arguments:
 * -1 to go on with optind at the first positional one, else the exit code.
 */
int parse_common_only(Ctl *ctl, int argc, char *argv[], const char *verb, const char *help)
{
        static const struct option opts[] = { COMMON_OPTIONS, { 0 } };
        int c, r = EXIT_OK;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                if (c == 'h') {
                        fputs(help, stdout);
                        return EXIT_OK;
                }
                if (common_option(ctl, c, verb, &r) && r != EXIT_OK)
                        return r;
        }
        return -1;
}

/* A reply's result printed for a person, or the reply as JSON; root is freed. */
int print_reply(Ctl *ctl, cJSON *root, const cJSON *res, void (*print)(const cJSON *res))
{
        if (ctl->json)
                ctl_print_json(root);
        else
                print(res);
        cJSON_Delete(root);
        return EXIT_OK;
}

/* One request, then its result printed. */
int call_and_print(Ctl *ctl, cJSON *req, int pass_fd, void (*print)(const cJSON *res))
{
        cJSON *root, *res;
        int r = ctl_call(ctl, req, pass_fd, &root, &res);

        return r != EXIT_OK ? r : print_reply(ctl, root, res, print);
}

static int verb_version(Ctl *ctl, int argc, char *argv[])
{
        int r = parse_common_only(ctl, argc, argv, "version",
                                  "Usage: pamprofctl version [--json] [--socket PATH]\n\n"
                                  "Show the client's and the daemon's versions.\n");

        if (r >= 0)
                return r;
        if (optind < argc)
                return usage_error("version", "unexpected argument \"%s\".", argv[optind]);
        if (!ctl->json) {
                /* Ours first: it is known without the daemon, which may be what is being checked. */
                printf("pamprofctl %s\n", PACKAGE_VERSION);
                fflush(stdout);
        }
        return call_and_print(ctl, protocol_request_new("version"), -1, print_version);
}

static int verb_plot(Ctl *ctl, int argc, char *argv[])
{
        return cmd_plot(argc, argv);
}

/* `report ID`: the daemon's record says where the session's files are. */
static int resolve_session(const char *id, const char *socket, char **ret_prefix, void *userdata)
{
        Ctl *ctl = userdata;
        cJSON *req = protocol_request_new("show"), *root, *res;
        const char *dir;
        int r;

        if (socket)
                ctl->socket = socket;
        cJSON_AddStringToObject(req, "id", id);
        r = ctl_call(ctl, req, -1, &root, &res);
        if (r != EXIT_OK)
                return r;
        dir = json_string(res, "output_dir", NULL);
        if (!dir || asprintf(ret_prefix, "%s/%s", dir, json_string(res, "id", id)) < 0) {
                fprintf(stderr, "pamprofctl: the record of %s names no directory.\n", id);
                cJSON_Delete(root);
                return EXIT_REFUSED;
        }
        cJSON_Delete(root);
        return EXIT_OK;
}

static int verb_report(Ctl *ctl, int argc, char *argv[])
{
        return cmd_report_with(argc, argv, resolve_session, ctl);
}

static const Verb verbs[] = {
        { "status", "[--watch]", "daemon, PAM and the running session with live figures", verb_status,
          true },
        { "start", "--scenario NAME [OPTIONS]", "start a session", verb_start, true },
        { "stop", "", "stop the running session and print its files", verb_stop, true },
        { "record", "--scenario NAME [OPTIONS]", "start, show progress, stop on Ctrl+C", verb_record, true },
        { "list", "[--limit N]", "list recorded sessions", verb_list, true },
        { "show", "ID", "one session's record", verb_show, true },
        { "delete", "ID", "remove a session's files and record", verb_delete, true },
        { "snapshot", "[--before S] [--after S] [--scenario NAME]",
          "save the flight recorder's window around now as a session", verb_snapshot, true },
        { "plot", "FILE.csv [-o OUT]", "draw a CSV (ours or the seed's) as PNG/SVG/PDF, no daemon needed",
          verb_plot, false },
        { "report", "FILE|ID [--vs OTHER]",
          "the findings of a session, ranked, with evidence (no daemon for files)", verb_report, false },
        { "version", "", "client and daemon versions", verb_version, true },
};

const Verb *verb_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

void verbs_help(FILE *f)
{
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char left[64];
                snprintf(left, sizeof(left), "%s %s", verbs[i].name, verbs[i].args);
                fprintf(f, "  %-36s %s\n", left, verbs[i].summary);
        }
}

void verbs_on_interrupt(int sig)
{
        verbs_interrupted = 1;
}
