/* SPDX-License-Identifier: MIT */
/* pamprofctl status, start and stop. */
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

static int status_once(Ctl *ctl, bool watch_line)
{
        cJSON *root, *res;
        int r = ctl_call(ctl, protocol_request_new("status"), -1, &root, &res);

        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                ctl_print_json(root);
        else {
                if (watch_line && isatty(STDOUT_FILENO))
                        printf("\033[H\033[2J");
                print_status(res);
        }
        fflush(stdout);
        cJSON_Delete(root);
        return EXIT_OK;
}

int verb_status(Ctl *ctl, int argc, char *argv[])
{
        static const struct option opts[] = { COMMON_OPTIONS,
                                              { "watch", no_argument, NULL, OPT_WATCH },
                                              { 0 } };
        bool watch = false;
        int c, r = EXIT_OK;

        while ((c = getopt_long(argc, argv, "hw", opts, NULL)) >= 0) {
                if (c == 'h') {
                        printf("Usage: pamprofctl status [--watch] [--json] [--socket PATH]\n\n"
                               "Show the daemon, PAM (pid, command line, uptime, restarts) and the running\n"
                               "session with live figures. --watch repeats every second until Ctrl+C.\n");
                        return EXIT_OK;
                }
                if (c == OPT_WATCH || c == 'w') {
                        watch = true;
                        continue;
                }
                if (common_option(ctl, c, "status", &r) && r != EXIT_OK)
                        return r;
        }
        if (optind < argc)
                return usage_error("status", "unexpected argument \"%s\".", argv[optind]);
        if (!watch)
                return status_once(ctl, false);
        while (!verbs_interrupted) {
                r = status_once(ctl, true);
                if (r != EXIT_OK)
                        return r;
                sleep(1);
        }
        return EXIT_OK;
}

/* ---- start / record ---- */

static const char start_help[] =
        "  --scenario NAME        label for the files, [A-Za-z0-9._-], 1-64 characters (required)\n"
        "                         e.g. idle-no-leaffc, idle-with-leaffc, esc-calibration, rc-stream,\n"
        "                         mission-execution\n"
        "  --interval SECONDS     sampling interval (default: the daemon's, 1)\n"
        "  --duration SECONDS     stop by itself after this long (default: until stopped)\n"
        "  --output DIR           write the files into DIR, owned by you (default: the daemon's\n"
        "                         output directory)\n"
        "  --pid N                sample process N instead of PAM\n"
        "  --include-children     count PAM's child processes too\n"
        "  --wait SECONDS         if PAM is not running yet, wait this long for it\n"
        "  --no-profile           CPU and memory only, no profiler\n"
        "  --no-monitor           the profiler only, no CPU and memory sampling\n"
        "  --rate HZ              the profiler's sampling rate (default: the daemon's, 100)\n"
        "  --nonblocking          let PAM run while py-spy reads it (less overhead, less exact)\n"
        "  --native               include native (C) frames\n"
        "  --subprocesses         profile PAM's child processes too\n"
        "  --gil                  only the thread holding the GIL\n"
        "  --profiler NAME        the sampler: py-spy or austin (default: the daemon's, py-spy)\n"
        "  --no-idle              leave out idle (sleeping) stacks; by default they are kept,\n"
        "                         so idle workers show their 95 %+ in time.sleep\n"
        "  --json                 print the daemon's reply as JSON\n"
        "  --socket PATH          the daemon's socket (default " PAMPROF_SOCKET_PATH ")\n";

/* The help of start and record. */
static void start_usage(const char *verb)
{
        printf("Usage: pamprofctl %s --scenario NAME [OPTIONS]\n\n%s\n\n%s", verb,
               strcmp(verb, "record") == 0
                       ? "Start a session, show its progress, and stop it on Ctrl+C (or when\n"
                         "--duration is up); then print the files."
                       : "Start a session: CPU and memory of PAM sampled into a CSV as it goes.",
               start_help);
}

/* Sets the switch that option c names; false if c is not one. */
static bool start_switch(int c, StartArgs *a)
{
        switch (c) {
        case OPT_CHILDREN:
                a->children = true;
                return true;
        case OPT_NO_PROFILE:
                a->no_profile = true;
                return true;
        case OPT_NO_MONITOR:
                a->no_monitor = true;
                return true;
        case OPT_NONBLOCKING:
                a->nonblocking = true;
                return true;
        case OPT_NATIVE:
                a->native = true;
                return true;
        case OPT_SUBPROCESSES:
                a->subprocesses = true;
                return true;
        case OPT_GIL:
                a->gil = true;
                return true;
        case OPT_NO_IDLE:
                a->no_idle = true;
                return true;
        default:
                return false;
        }
}

/* Takes the value of option c into a, a usage error in *r if it is out of range; false if c has none. */
static bool start_value(const char *verb, int c, StartArgs *a, int *r)
{
        switch (c) {
        case 's':
        case OPT_SCENARIO:
                a->scenario = optarg;
                return true;
        case 'i':
        case OPT_INTERVAL:
                *r = parse_start_field(verb, "--interval", "interval", optarg, &a->interval);
                return true;
        case 'd':
        case OPT_DURATION:
                *r = parse_start_field(verb, "--duration", "duration", optarg, &a->duration);
                return true;
        case 'o':
        case OPT_OUTPUT:
                a->output = optarg;
                return true;
        case 'p':
        case OPT_PID:
                *r = parse_start_field(verb, "--pid", "pid", optarg, &a->pid);
                if (*r == 0 && a->pid != floor(a->pid))
                        *r = usage_error(verb, "--pid needs a whole number, not \"%s\".", optarg);
                return true;
        case OPT_WAIT:
                *r = parse_start_field(verb, "--wait", "wait", optarg, &a->wait);
                return true;
        case OPT_RATE:
                *r = parse_start_field(verb, "--rate", "rate", optarg, &a->rate);
                if (*r == 0 && a->rate != floor(a->rate))
                        *r = usage_error(verb, "--rate needs a whole number, not \"%s\".", optarg);
                return true;
        case OPT_PROFILER:
                a->profiler = optarg;
                return true;
        default:
                return false;
        }
}

int parse_start(Ctl *ctl, const char *verb, int argc, char *argv[], StartArgs *a)
{
        static const struct option opts[] = {
                COMMON_OPTIONS,
                { "scenario", required_argument, NULL, OPT_SCENARIO },
                { "interval", required_argument, NULL, OPT_INTERVAL },
                { "duration", required_argument, NULL, OPT_DURATION },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "pid", required_argument, NULL, OPT_PID },
                { "include-children", no_argument, NULL, OPT_CHILDREN },
                { "wait", required_argument, NULL, OPT_WAIT },
                { "no-profile", no_argument, NULL, OPT_NO_PROFILE },
                { "no-monitor", no_argument, NULL, OPT_NO_MONITOR },
                { "rate", required_argument, NULL, OPT_RATE },
                { "nonblocking", no_argument, NULL, OPT_NONBLOCKING },
                { "native", no_argument, NULL, OPT_NATIVE },
                { "subprocesses", no_argument, NULL, OPT_SUBPROCESSES },
                { "gil", no_argument, NULL, OPT_GIL },
                { "no-idle", no_argument, NULL, OPT_NO_IDLE },
                { "profiler", required_argument, NULL, OPT_PROFILER },
                { 0 },
        };
        int c, r = EXIT_OK;

        *a = (StartArgs){ .interval = NAN, .duration = NAN, .pid = NAN, .wait = NAN, .rate = NAN };
        while ((c = getopt_long(argc, argv, "hs:i:d:o:p:", opts, NULL)) >= 0) {
                if (c == 'h') {
                        start_usage(verb);
                        return -1;
                }
                if (!start_switch(c, a) && !start_value(verb, c, a, &r))
                        common_option(ctl, c, verb, &r);
                if (r != EXIT_OK)
                        return r;
        }
        if (optind < argc)
                return usage_error(verb, "unexpected argument \"%s\".", argv[optind]);
        if (!a->scenario)
                return usage_error(verb,
                                   "--scenario NAME is required (for example --scenario idle-no-leaffc).");
        if (!scenario_is_valid(a->scenario))
                return usage_error(verb,
                                   "scenario \"%s\" is not a valid label: use 1 to 64 characters from "
                                   "A-Z a-z 0-9 . _ -.",
                                   a->scenario);
        if (a->no_profile && a->no_monitor)
                return usage_error(verb, "--no-profile and --no-monitor together leave nothing to record.");
        return EXIT_OK;
}

static cJSON *start_request(const StartArgs *a, const char *output_abs)
{
        cJSON *req = protocol_request_new("start");

        cJSON_AddStringToObject(req, "scenario", a->scenario);
        if (isfinite(a->interval))
                cJSON_AddNumberToObject(req, "interval", a->interval);
        if (isfinite(a->duration))
                cJSON_AddNumberToObject(req, "duration", a->duration);
        if (isfinite(a->pid))
                cJSON_AddNumberToObject(req, "pid", a->pid);
        if (isfinite(a->wait))
                cJSON_AddNumberToObject(req, "wait", a->wait);
        if (isfinite(a->rate))
                cJSON_AddNumberToObject(req, "rate", a->rate);
        if (a->children)
                cJSON_AddTrueToObject(req, "include_children");
        if (a->no_profile)
                cJSON_AddFalseToObject(req, "profile");
        if (a->no_monitor)
                cJSON_AddFalseToObject(req, "monitor");
        if (output_abs)
                cJSON_AddStringToObject(req, "output", output_abs);
        if (a->nonblocking)
                cJSON_AddTrueToObject(req, "nonblocking");
        if (a->native)
                cJSON_AddTrueToObject(req, "native");
        if (a->subprocesses)
                cJSON_AddTrueToObject(req, "subprocesses");
        if (a->gil)
                cJSON_AddTrueToObject(req, "gil");
        if (a->no_idle)
                cJSON_AddFalseToObject(req, "idle");
        if (a->profiler)
                cJSON_AddStringToObject(req, "profiler", a->profiler);
        if ((a->nonblocking || a->native || a->subprocesses || a->gil || a->no_idle || isfinite(a->rate)) &&
            a->no_profile)
                fprintf(stderr, "pamprofctl: note: the profiler's options are ignored with --no-profile.\n");
        return req;
}

/* Opens --output here, as the user, and hands the daemon the descriptor, never the path. */
static int open_output(const char *verb, const char *dir, int *ret_fd, char **ret_abs)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char *abs;

        if (fd < 0) {
                fprintf(stderr, "pamprofctl %s: cannot open output directory %s: %s.\n", verb, dir,
                        strerror(errno));
                return EXIT_REFUSED;
        }
        if (access(dir, W_OK) < 0) {
                fprintf(stderr, "pamprofctl %s: you cannot write into %s: %s.\n", verb, dir,
                        strerror(errno));
                close(fd);
                return EXIT_REFUSED;
        }
        abs = realpath(dir, NULL);
        *ret_fd = fd;
        *ret_abs = abs ? abs : strdup(dir);
        return EXIT_OK;
}

int do_start(Ctl *ctl, const char *verb, const StartArgs *a, cJSON **ret_root, cJSON **ret_result)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *abs = NULL;
        int r;

        if (a->output) {
                r = open_output(verb, a->output, &fd, &abs);
                if (r != EXIT_OK)
                        return r;
        }
        return ctl_call(ctl, start_request(a, abs), fd, ret_root, ret_result);
}

int verb_start(Ctl *ctl, int argc, char *argv[])
{
        StartArgs a;
        cJSON *root, *res;
        int r = parse_start(ctl, "start", argc, argv, &a);

        if (r != EXIT_OK)
                return r < 0 ? EXIT_OK : r;
        r = do_start(ctl, "start", &a, &root, &res);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                ctl_print_json(root);
        else
                print_started(res, isfinite(a.duration));
        cJSON_Delete(root);
        return EXIT_OK;
}

static int stop_session(Ctl *ctl, const char *id)
{
        cJSON *req = protocol_request_new("stop");

        if (id)
                cJSON_AddStringToObject(req, "id", id);
        if (!ctl->json && isatty(STDERR_FILENO))
                fprintf(stderr, "Stopping; the files are being finished...\n");
        return call_and_print(ctl, req, -1, print_stopped);
}

int verb_stop(Ctl *ctl, int argc, char *argv[])
{
        int r = parse_common_only(ctl, argc, argv, "stop",
                                  "Usage: pamprofctl stop [--json] [--socket PATH]\n\n"
                                  "Stop the running session: the CSV is finished and synced, and the files\n"
                                  "are printed once they are final.\n");

        if (r >= 0)
                return r;
        if (optind < argc)
                return usage_error("stop", "unexpected argument \"%s\".", argv[optind]);
        return stop_session(ctl, NULL);
}
