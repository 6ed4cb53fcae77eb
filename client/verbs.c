/* SPDX-License-Identifier: MIT */
/*
 * pamprofctl's verbs, table-driven (systemd's *ctl tools, bgpctl): each verb
 * parses its own options, makes its requests, and prints either text for a
 * person or, with --json, the daemon's replies for a script.
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
#include "cmd-plot.h"
#include "cmd-report.h"
#include "protocol.h"
#include "verbs.h"

enum {
        OPT_JSON = 0x100,
        OPT_SOCKET,
        OPT_HELP,
        OPT_WATCH,
        OPT_SCENARIO,
        OPT_INTERVAL,
        OPT_DURATION,
        OPT_OUTPUT,
        OPT_PID,
        OPT_CHILDREN,
        OPT_WAIT,
        OPT_NO_PROFILE,
        OPT_NO_MONITOR,
        OPT_RATE,
        OPT_LIMIT,
        OPT_ID,
        OPT_NONBLOCKING,
        OPT_NATIVE,
        OPT_SUBPROCESSES,
        OPT_GIL,
        OPT_NO_IDLE,
        OPT_PROFILER
};

#define COMMON_OPTIONS                                                                              \
        { "json", no_argument, NULL, OPT_JSON }, { "socket", required_argument, NULL, OPT_SOCKET }, \
        {                                                                                           \
                "help", no_argument, NULL, 'h'                                                      \
        }

static volatile sig_atomic_t interrupted;

static int usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);
static int usage_error(const char *verb, const char *fmt, ...)
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
static bool common_option(Ctl *ctl, int c, const char *verb, int *ret)
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

static int parse_positive(const char *verb, const char *opt, const char *s, double lo, double hi,
                          double *ret);

/* A number option of start, in the range the protocol table gives its field: one table, both ends. */
static int parse_start_field(const char *verb, const char *opt, const char *field, const char *s,
                             double *ret)
{
        const FieldSpec *f = protocol_field(CMD_START, field);

        assert(f);
        return parse_positive(verb, opt, s, f->min, f->max, ret);
}

static int parse_positive(const char *verb, const char *opt, const char *s, double lo, double hi,
                          double *ret)
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
static int parse_common_only(Ctl *ctl, int argc, char *argv[], const char *verb, const char *help)
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
static int print_reply(Ctl *ctl, cJSON *root, const cJSON *res, void (*print)(const cJSON *res))
{
        if (ctl->json)
                ctl_print_json(root);
        else
                print(res);
        cJSON_Delete(root);
        return EXIT_OK;
}

/* One request, then its result printed. */
static int call_and_print(Ctl *ctl, cJSON *req, int pass_fd, void (*print)(const cJSON *res))
{
        cJSON *root, *res;
        int r = ctl_call(ctl, req, pass_fd, &root, &res);

        return r != EXIT_OK ? r : print_reply(ctl, root, res, print);
}

static void print_files(const cJSON *result)
{
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(result, "files"), *f;
        const char *dir = json_string(result, "output_dir", NULL);

        if (!cJSON_IsObject(files))
                return;
        printf("Files in %s:\n", dir ? dir : "the output directory");
        cJSON_ArrayForEach(f, files)
        {
                if (cJSON_IsString(f))
                        printf("  %s%s%s\n", dir ? dir : "", dir && dir[strlen(dir) - 1] != '/' ? "/" : "",
                               f->valuestring);
        }
}

static void print_summary(const cJSON *result)
{
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(result, "summary");
        double rows = json_number(result, "rows", 0);

        if (!cJSON_IsObject(s) || json_number(s, "samples", 0) <= 0) {
                printf("%.0f rows.\n", rows);
                return;
        }
        printf("%.0f rows; CPU mean %.2f%%, p95 %.2f%%, max %.2f%% of the machine; memory %.1f -> %.1f MB "
               "(max %.1f)",
               rows, json_number(s, "cpu_mean", NAN), json_number(s, "cpu_p95", NAN),
               json_number(s, "cpu_max", NAN), json_number(s, "memory_start_mb", NAN),
               json_number(s, "memory_end_mb", NAN), json_number(s, "memory_max_mb", NAN));
        if (isfinite(json_number(s, "memory_growth_mb_per_hour", NAN))) {
                double g = json_number(s, "memory_growth_mb_per_hour", NAN);
                printf(", growth %+.1f MB/h", fabs(g) < 0.05 ? 0.0 : g);
        }
        printf(".\n");
}

static const char *sampler_name(const cJSON *p);
static void print_coverage(const cJSON *p, const char *indent);

/* ---- version ---- */

static void print_version(const cJSON *res)
{
        printf("pamprofd %s (protocol %.0f)\n", json_string(res, "version", "?"),
               json_number(res, "protocol", 0));
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

/* ---- status ---- */

static void print_status(const cJSON *res)
{
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(res, "daemon");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(res, "target");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(res, "session");
        const cJSON *last;
        char a[32], b[32];

        format_seconds(json_number(d, "uptime_seconds", 0), a, sizeof(a));
        printf("pamprofd %s, pid %.0f, up %s, socket %s\n", json_string(d, "version", "?"),
               json_number(d, "pid", 0), a, json_string(d, "socket", "?"));
        if (strcmp(json_string(t, "state", ""), "running") == 0) {
                format_seconds(json_number(t, "uptime_seconds", 0), a, sizeof(a));
                printf("PAM:     pid %.0f, up %s, restarts seen %.0f\n         %s\n",
                       json_number(t, "pid", 0), a, json_number(t, "restarts", 0),
                       json_string(t, "cmdline", ""));
        } else if (json_string(t, "unit", NULL))
                printf("PAM:     not running (%s has no main process)\n", json_string(t, "unit", "?"));
        else
                printf("PAM:     not running (looking for \"%s\")\n", json_string(t, "match", "?"));
        if (!cJSON_IsObject(s)) {
                printf("Session: none%s\n",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "waiting_for_target"))
                               ? " (a start is waiting for PAM)"
                               : "");
                return;
        }
        format_seconds(json_number(s, "elapsed_seconds", 0), a, sizeof(a));
        format_seconds(json_number(s, "duration", 0), b, sizeof(b));
        printf("Session: %s (%s), %s %s%s%s, pid %.0f, every %gs\n", json_string(s, "id", "?"),
               json_string(s, "scenario", "?"), json_string(s, "state", "?"), a,
               json_number(s, "duration", 0) > 0 ? " of " : "", json_number(s, "duration", 0) > 0 ? b : "",
               json_number(s, "pid", 0), json_number(s, "interval", 1));
        last = cJSON_GetObjectItemCaseSensitive(s, "last");
        if (cJSON_IsObject(last))
                printf("         %.0f rows; CPU %.2f%% now (%.1f%% of a core), %.2f%% mean; memory %.1f MB\n",
                       json_number(s, "rows", 0), json_number(last, "cpu_percent", NAN),
                       json_number(last, "cpu_core_percent", NAN),
                       json_number(cJSON_GetObjectItemCaseSensitive(s, "summary"), "cpu_mean", NAN),
                       json_number(last, "memory_mb", NAN));
        else
                printf("         no rows yet\n");
        last = cJSON_GetObjectItemCaseSensitive(s, "profile");
        if (cJSON_IsObject(last)) {
                const cJSON *runs = cJSON_GetObjectItemCaseSensitive(last, "runs");
                const cJSON *run = cJSON_GetArrayItem(runs, cJSON_GetArraySize(runs) - 1);
                printf("         %s: %s", json_string(last, "version", sampler_name(last)),
                       json_string(last, "state", "?"));
                if (json_number(last, "pid", 0) > 0)
                        printf(", pid %.0f, run %d", json_number(last, "pid", 0), cJSON_GetArraySize(runs));
                if (run && strcmp(json_string(run, "outcome", ""), "failed") == 0)
                        printf("; last run failed: %s", json_string(run, "reason", "?"));
                printf("\n");
                print_coverage(last, "         ");
        }
}

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

static int verb_status(Ctl *ctl, int argc, char *argv[])
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
        while (!interrupted) {
                r = status_once(ctl, true);
                if (r != EXIT_OK)
                        return r;
                sleep(1);
        }
        return EXIT_OK;
}

/* ---- start / record ---- */

typedef struct StartArgs {
        const char *scenario;
        const char *output;
        const char *profiler;
        double interval, duration, pid, wait, rate;
        bool children, no_profile, no_monitor;
        bool nonblocking, native, subprocesses, gil, no_idle;
} StartArgs;

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

static int parse_start(Ctl *ctl, const char *verb, int argc, char *argv[], StartArgs *a)
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
                switch (c) {
                case 'h':
                        printf("Usage: pamprofctl %s --scenario NAME [OPTIONS]\n\n%s\n\n%s", verb,
                               strcmp(verb, "record") == 0
                                       ? "Start a session, show its progress, and stop it on Ctrl+C (or when\n"
                                         "--duration is up); then print the files."
                                       : "Start a session: CPU and memory of PAM sampled into a CSV as it goes.",
                               start_help);
                        return -1;
                case 's':
                case OPT_SCENARIO:
                        a->scenario = optarg;
                        break;
                case 'i':
                case OPT_INTERVAL:
                        r = parse_start_field(verb, "--interval", "interval", optarg, &a->interval);
                        break;
                case 'd':
                case OPT_DURATION:
                        r = parse_start_field(verb, "--duration", "duration", optarg, &a->duration);
                        break;
                case 'o':
                case OPT_OUTPUT:
                        a->output = optarg;
                        break;
                case 'p':
                case OPT_PID:
                        r = parse_start_field(verb, "--pid", "pid", optarg, &a->pid);
                        if (r == 0 && a->pid != floor(a->pid))
                                r = usage_error(verb, "--pid needs a whole number, not \"%s\".", optarg);
                        break;
                case OPT_CHILDREN:
                        a->children = true;
                        break;
                case OPT_WAIT:
                        r = parse_start_field(verb, "--wait", "wait", optarg, &a->wait);
                        break;
                case OPT_NO_PROFILE:
                        a->no_profile = true;
                        break;
                case OPT_NO_MONITOR:
                        a->no_monitor = true;
                        break;
                case OPT_RATE:
                        r = parse_start_field(verb, "--rate", "rate", optarg, &a->rate);
                        if (r == 0 && a->rate != floor(a->rate))
                                r = usage_error(verb, "--rate needs a whole number, not \"%s\".", optarg);
                        break;
                case OPT_NONBLOCKING:
                        a->nonblocking = true;
                        break;
                case OPT_NATIVE:
                        a->native = true;
                        break;
                case OPT_SUBPROCESSES:
                        a->subprocesses = true;
                        break;
                case OPT_GIL:
                        a->gil = true;
                        break;
                case OPT_NO_IDLE:
                        a->no_idle = true;
                        break;
                case OPT_PROFILER:
                        a->profiler = optarg;
                        break;
                default:
                        common_option(ctl, c, verb, &r);
                }
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

static int do_start(Ctl *ctl, const char *verb, const StartArgs *a, cJSON **ret_root, cJSON **ret_result)
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

static void print_started(const cJSON *res, bool duration_given)
{
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(res, "status");
        double duration = json_number(res, "duration", 0);
        char d[32];

        format_seconds(duration, d, sizeof(d));
        printf("Started %s on pid %.0f: every %gs, ", json_string(res, "id", "?"),
               json_number(res, "pid", 0), json_number(res, "interval", 1));
        if (duration_given)
                printf("for %s.\n", d);
        else if (duration > 0)
                printf("until stopped (at most %s, the daemon's max_duration).\n", d);
        else
                printf("until stopped.\n");
        print_files(st);
}

static int verb_start(Ctl *ctl, int argc, char *argv[])
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

/* ---- stop ---- */

/* "Austin", as the daemon names the sampler that ran; older records say "py-spy" or "austin" only. */
static const char *sampler_name(const cJSON *p)
{
        const char *name = json_string(p, "profiler_name", NULL);

        if (name)
                return name;
        name = json_string(p, "profiler", "py-spy");
        return strcmp(name, "austin") == 0 ? "Austin" : name;
}

/* "Coverage: 94 % of the session (11.3 of 12.0 s); Austin stopped early 8 times and was restarted." */
static void print_coverage(const cJSON *p, const char *indent)
{
        double cov = json_number(p, "coverage", NAN), early = json_number(p, "early_exits", 0);
        const char *warning = json_string(p, "coverage_warning", NULL);

        if (!isfinite(cov))
                return;
        if (warning) {
                printf("%sWarning: %s.\n", indent, warning);
                return;
        }
        printf("%sCoverage: %.0f %% of the session (%.1f s profiled)", indent, floor(cov * 100),
               json_number(p, "profiled_seconds", 0));
        if (early > 0)
                printf("; %s stopped early %.0f time%s and was restarted", sampler_name(p), early,
                       early == 1 ? "" : "s");
        printf(".\n");
}

static void print_profile(const cJSON *res)
{
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(res, "profile");
        const char *state = json_string(p, "state", "?");

        if (!cJSON_IsObject(p))
                return;
        if (strcmp(state, "ok") == 0 || strcmp(state, "recovered") == 0)
                printf("Profile: %s, %.0f samples over %.0f threads, %.0f %s run(s) (%s)%s.\n", state,
                       json_number(p, "samples", 0),
                       (double) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "threads")),
                       (double) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "runs")),
                       sampler_name(p), json_string(p, "version", "?"),
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "capped"))
                               ? "; profiling stopped early at the daemon's max_profile_mb"
                               : "");
        else if (strcmp(state, "running") == 0 || strcmp(state, "waiting") == 0 ||
                 strcmp(state, "restarting") == 0)
                printf("Profile: %s (%s), %.0f run(s) so far; the file is written when the session stops.\n",
                       strcmp(state, "running") == 0              ? "recording"
                               : strcmp(state, "restarting") == 0 ? "restarting after an early stop"
                                                                  : "waiting for PAM",
                       sampler_name(p),
                       (double) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "runs")));
        else
                printf("Profile: %s: %s.\n", state, json_string(p, "reason", "no reason given"));
        print_coverage(p, "         ");
}

static void print_stopped(const cJSON *res)
{
        char d[32];

        format_seconds(json_number(res, "duration_seconds", 0), d, sizeof(d));
        printf("Session %s %s after %s: %s.\n", json_string(res, "id", "?"), json_string(res, "state", "?"),
               d, json_string(res, "end_reason", "?"));
        print_summary(res);
        print_profile(res);
        print_files(res);
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

static int verb_stop(Ctl *ctl, int argc, char *argv[])
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

static int verb_record(Ctl *ctl, int argc, char *argv[])
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

/* ---- list / show ---- */

static int verb_list(Ctl *ctl, int argc, char *argv[])
{
        static const struct option opts[] = { COMMON_OPTIONS,
                                              { "limit", required_argument, NULL, OPT_LIMIT },
                                              { 0 } };
        cJSON *req, *root, *res, *it;
        double limit = NAN;
        int c, r = EXIT_OK;

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
        cJSON_Delete(root);
        return EXIT_OK;
}

static void print_record(const cJSON *rec)
{
        const cJSON *ev, *target = cJSON_GetObjectItemCaseSensitive(rec, "target");
        const cJSON *opts = cJSON_GetObjectItemCaseSensitive(rec, "options");
        char d[32];

        format_seconds(json_number(rec, "duration_seconds", 0), d, sizeof(d));
        printf("Session:  %s\nScenario: %s\nState:    %s%s%s\n", json_string(rec, "id", "?"),
               json_string(rec, "scenario", "?"), json_string(rec, "state", "?"),
               json_string(rec, "end_reason", NULL) ? " - " : "", json_string(rec, "end_reason", ""));
        printf("Started:  %s\nEnded:    %s\nDuration: %s\n", json_string(rec, "started_at", "?"),
               json_string(rec, "ended_at", "-"), d);
        printf("Target:   pid %.0f", json_number(target, "pid", 0));
        if (json_string(target, "cmdline", "")[0])
                printf(" %s\n", json_string(target, "cmdline", ""));
        else
                printf(" (its command line is not known)\n");
        printf("Interval: %gs%s\n", json_number(opts, "interval", 1),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_children"))
                       ? ", children included"
                       : "");
        print_summary(rec);
        print_profile(rec);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rec, "events")) > 0)
                printf("Events:\n");
        cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(rec, "events"))
        {
                format_seconds(json_number(ev, "elapsed_seconds", 0), d, sizeof(d));
                printf("  %8s  %-16s %s\n", d, json_string(ev, "type", "?"), json_string(ev, "message", ""));
        }
        print_files(rec);
}

static int verb_show(Ctl *ctl, int argc, char *argv[])
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

static int verb_delete(Ctl *ctl, int argc, char *argv[])
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
        interrupted = 1;
}
