/* SPDX-License-Identifier: MIT */
#include "cmd-report.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "report.h"

#define EXIT_USAGE 2

typedef struct ReportArgs {
        const char *what, *vs;
        const char *csv, *threads, *session;
        const char *scenario, *socket;
        bool json, idle;
} ReportArgs;

static void help(void)
{
        printf("Usage: pamprofctl report FILE|ID [OPTIONS]\n"
               "\n"
               "The seed's Interpretation Guide, done for you: a session's findings, most\n"
               "important first, each with the thread, the function (file:line), the numbers\n"
               "and where to look in speedscope; then the threads, the hot code and the CPU\n"
               "and memory figures. No daemon is needed for files.\n"
               "\n"
               "FILE is any of a session's files (pam_<scenario>_<stamp>_profile.speedscope.json,\n"
               "_cpu.csv, _threads.csv, _session.json) or their common prefix: the others next\n"
               "to it are used when present. A _cpu.csv alone gives the CPU and memory part.\n"
               "\n"
               "      --csv=FILE        the CPU/memory CSV (default: the sibling _cpu.csv)\n"
               "      --threads=FILE    the per-thread CPU CSV (default: the sibling _threads.csv)\n"
               "      --session=FILE    the session record (default: the sibling _session.json)\n"
               "      --vs=OTHER        compare with another session (FILE or ID)\n"
               "      --scenario=NAME   the scenario label, when the files do not say\n"
               "      --idle-scenario   apply the idle targets (95%%+ idle threads, CPU under 5%%)\n"
               "                        whatever the scenario is called (default: when it\n"
               "                        starts with \"idle\")\n"
               "      --json            print the report as JSON\n"
               "      --socket=PATH     the daemon's socket, for an ID\n"
               "  -h, --help            show this help\n"
               "\n"
               "Exit status: 0 report printed (findings or not), 1 a file could not be read,\n"
               "2 usage error.\n");
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "pamprofctl report: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'pamprofctl report --help'.\n");
        return EXIT_USAGE;
}

enum { OPT_CSV = 0x100, OPT_THREADS, OPT_SESSION, OPT_VS, OPT_SCENARIO, OPT_IDLE, OPT_JSON, OPT_SOCKET };

static const struct option report_options[] = {
        { "csv", required_argument, NULL, OPT_CSV },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "session", required_argument, NULL, OPT_SESSION },
        { "vs", required_argument, NULL, OPT_VS },
        { "scenario", required_argument, NULL, OPT_SCENARIO },
        { "idle-scenario", no_argument, NULL, OPT_IDLE },
        { "json", no_argument, NULL, OPT_JSON },
        { "socket", required_argument, NULL, OPT_SOCKET },
        { "help", no_argument, NULL, 'h' },
        { 0 },
};

/* 0 to go on; -1 after --help; otherwise the exit code. */
static int parse_args(int argc, char *argv[], ReportArgs *a)
{
        int c;

        optind = 0; /* glibc: start afresh, whoever parsed before */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", report_options, NULL)) >= 0) {
                switch (c) {
                case OPT_CSV:
                        a->csv = optarg;
                        break;
                case OPT_THREADS:
                        a->threads = optarg;
                        break;
                case OPT_SESSION:
                        a->session = optarg;
                        break;
                case OPT_VS:
                        a->vs = optarg;
                        break;
                case OPT_SCENARIO:
                        if (!optarg[0] || strlen(optarg) > 64)
                                return usage_error("--scenario wants a label of 1 to 64 characters.");
                        a->scenario = optarg;
                        break;
                case OPT_IDLE:
                        a->idle = true;
                        break;
                case OPT_JSON:
                        a->json = true;
                        break;
                case OPT_SOCKET:
                        a->socket = optarg;
                        break;
                case 'h':
                        help();
                        return -1;
                case ':':
                        return usage_error("%s needs a value.", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'.", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return usage_error(
                        "which session? Give a FILE (e.g. ..._profile.speedscope.json) or an ID.");
        if (optind + 1 < argc)
                return usage_error("one session at a time; '%s' is one too many (compare with --vs).",
                                   argv[optind + 1]);
        a->what = argv[optind];
        return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * FILE, prefix or ID -> the session's paths. 0, or an exit code after
 * saying why.
 */
static int locate(const char *what, const ReportArgs *a, ReportResolver resolve, void *userdata,
                  ReportPaths *ret)
{
        _cleanup_free_ char *prefix = NULL;
        bool is_file = access(what, F_OK) == 0;
        int r;

        if (!is_file && !strchr(what, '/') && resolve && !ends_with(what, ".json") &&
            !ends_with(what, ".csv")) {
                r = resolve(what, a->socket, &prefix, userdata);
                if (r != 0)
                        return r;
                what = prefix;
        }
        r = report_find_siblings(what, ret);
        if (r < 0) {
                fprintf(stderr, "pamprofctl report: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        if (is_file && !ret->profile && !ret->csv && !ret->threads && !ret->session) {
                /* Not seed-named: a CSV of CPU and memory, or a profile, by itself. */
                char **slot = ends_with(what, ".csv") ? &ret->csv : &ret->profile;
                *slot = strdup(what);
                if (!*slot)
                        return EXIT_FAILURE;
        }
        if (!ret->profile && !ret->csv) {
                if (!is_file && !strchr(what, '/') && !resolve)
                        fprintf(stderr,
                                "pamprofctl report: %s: no such file. Reports by session ID need the "
                                "daemon's lookup, which this build does not have: give the session's "
                                "..._profile.speedscope.json or ..._cpu.csv.\n",
                                what);
                else if (!is_file)
                        fprintf(stderr,
                                "pamprofctl report: %s: no such file, and no session's files start so.\n",
                                what);
                else
                        fprintf(stderr,
                                "pamprofctl report: %s: neither a profile nor a CPU CSV is there to report "
                                "on (want ..._profile.speedscope.json or ..._cpu.csv).\n",
                                what);
                return EXIT_FAILURE;
        }
        return 0;
}

static const char *label_of(const ReportPaths *p, char *buf, size_t size)
{
        const char *s = strrchr(p->prefix, '/');

        snprintf(buf, size, "%s", s ? s + 1 : p->prefix);
        return buf;
}

int cmd_report_with(int argc, char *argv[], ReportResolver resolve, void *userdata)
{
        ReportArgs a = { 0 };
        ReportPaths p = { 0 }, q = { 0 };
        ReportInputs in = { 0 }, vs = { 0 };
        char label[256], vs_label[256];
        _cleanup_free_ char *error = NULL;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r < 0 ? EXIT_SUCCESS : r;
        r = locate(a.what, &a, resolve, userdata, &p);
        if (r != 0)
                goto out;
        in = (ReportInputs){
                .profile = p.profile,
                .csv = a.csv ? a.csv : p.csv,
                .threads = a.threads ? a.threads : p.threads,
                .session = a.session ? a.session : p.session,
                .label = label_of(&p, label, sizeof(label)),
                .scenario = a.scenario,
                .idle = a.idle ? 1 : -1,
        };
        if (a.vs) {
                r = locate(a.vs, &a, resolve, userdata, &q);
                if (r != 0)
                        goto out;
                vs = (ReportInputs){ .profile = q.profile,
                                     .csv = q.csv,
                                     .threads = q.threads,
                                     .session = q.session,
                                     .label = label_of(&q, vs_label, sizeof(vs_label)),
                                     .scenario = a.scenario,
                                     .idle = a.idle ? 1 : -1 };
        }
        r = report_run_files(&in, a.vs ? &vs : NULL, a.json, stdout, &error);
        if (r < 0) {
                fprintf(stderr, "pamprofctl report: %s\n", error ? error : strerror(-r));
                r = EXIT_FAILURE;
        } else
                r = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
out:
        report_paths_done(&p);
        report_paths_done(&q);
        return r;
}

int cmd_report(int argc, char *argv[])
{
        return cmd_report_with(argc, argv, NULL, NULL);
}
