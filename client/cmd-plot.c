/* SPDX-License-Identifier: MIT */
#include "cmd-plot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "plot.h"

#define EXIT_USAGE 2

typedef struct PlotArgs {
        const char *csv;
        const char *output; /* NULL: next to the CSV */
        const char *title;
        unsigned width, height;
        bool force, json;
} PlotArgs;

static void help(void)
{
        printf("Usage: pamprofctl plot FILE.csv [OPTIONS]\n"
               "\n"
               "Draw a session's CPU and memory (and its threads, when FILE's _threads.csv\n"
               "is there) as an image, without the daemon. Works on the seed's CSVs too.\n"
               "\n"
               "  -o, --output=OUT     OUT.png, OUT.svg or OUT.pdf (default: FILE with .png\n"
               "                       for .csv; \"-\" writes a PNG to standard output)\n"
               "      --size=WxH       image size in pixels (default %ux%u)\n"
               "      --title=TEXT     title instead of the scenario, date and duration\n"
               "  -f, --force          replace OUT if it exists\n"
               "      --json           print the result as JSON\n"
               "  -h, --help           show this help\n"
               "\n"
               "The _session.json and _threads.csv next to a _cpu.csv are used when present.\n",
               PLOT_DEFAULT_WIDTH, PLOT_DEFAULT_HEIGHT);
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "pamprofctl plot: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'pamprofctl plot --help'.\n");
        return EXIT_USAGE;
}

static int parse_size(const char *s, unsigned *w, unsigned *h)
{
        char *end;
        unsigned long a, b;

        errno = 0;
        a = strtoul(s, &end, 10);
        if (end == s || (*end != 'x' && *end != 'X') || errno)
                return -EINVAL;
        s = end + 1;
        b = strtoul(s, &end, 10);
        if (end == s || *end || errno)
                return -EINVAL;
        if (a < PLOT_SIZE_MIN || b < PLOT_SIZE_MIN || a > PLOT_SIZE_MAX || b > PLOT_SIZE_MAX)
                return -ERANGE;
        *w = (unsigned) a;
        *h = (unsigned) b;
        return 0;
}

/* 0 to go on; otherwise the exit code. */
static int parse_args(int argc, char *argv[], PlotArgs *a)
{
        static const struct option opts[] = {
                { "output", required_argument, NULL, 'o' },
                { "size", required_argument, NULL, 's' },
                { "title", required_argument, NULL, 't' },
                { "force", no_argument, NULL, 'f' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        int c;

        optind = 0; /* glibc: start afresh, whoever parsed before */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":o:fh", opts, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        a->output = optarg;
                        break;
                case 's':
                        if (parse_size(optarg, &a->width, &a->height) < 0)
                                return usage_error("--size wants WxH, each side %u to %u, like 1600x900.",
                                                   PLOT_SIZE_MIN, PLOT_SIZE_MAX);
                        break;
                case 't':
                        a->title = optarg;
                        break;
                case 'f':
                        a->force = true;
                        break;
                case 'j':
                        a->json = true;
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
                return usage_error("which CSV? Give FILE.csv.");
        if (optind + 1 < argc)
                return usage_error("one CSV at a time; '%s' is one too many.", argv[optind + 1]);
        a->csv = argv[optind];
        return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* FILE.csv -> FILE.png; anything else gets .png appended. */
static char *default_output(const char *csv)
{
        size_t n = strlen(csv);
        char *s;

        if (ends_with(csv, ".csv"))
                n -= 4;
        if (asprintf(&s, "%.*s.png", (int) n, csv) < 0)
                return NULL;
        return s;
}

/* The companion of a "..._cpu.csv": "..._session.json" or "..._threads.csv"; -1 when absent. */
static int open_sibling(const char *csv, const char *suffix, char *warning, size_t size)
{
        _cleanup_free_ char *path = NULL;
        int fd;

        if (!ends_with(csv, "_cpu.csv"))
                return -1;
        if (asprintf(&path, "%.*s%s", (int) (strlen(csv) - strlen("cpu.csv")), csv, suffix) < 0)
                return -1;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno != ENOENT)
                snprintf(warning, size, "%s: %s; drawn without it", path, strerror(errno));
        return fd;
}

/* A temporary file beside out, so the rename that publishes it stays on one file system. */
static int open_temp(const char *out, char **ret_path)
{
        const char *slash = strrchr(out, '/');
        char *tmp;
        mode_t mask;
        int fd;

        if (asprintf(&tmp, "%.*s.%s.XXXXXX", slash ? (int) (slash - out + 1) : 0, out,
                     slash ? slash + 1 : out) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                int r = negative_errno();
                free(tmp);
                return r;
        }
        mask = umask(0);
        umask(mask);
        (void) fchmod(fd, 0666 & ~mask);
        *ret_path = tmp;
        return fd;
}

static int publish(const char *tmp, const char *out, bool force)
{
        if (force)
                return rename(tmp, out) < 0 ? negative_errno() : 0;
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) == 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return negative_errno();
        /* A file system without RENAME_NOREPLACE: link() refuses to overwrite too. */
        if (link(tmp, out) < 0)
                return negative_errno();
        unlink(tmp);
        return 0;
}

static void report(const PlotArgs *a, const char *out, const PlotStats *st)
{
        if (st->skipped > 0)
                fprintf(stderr,
                        "pamprofctl: warning: skipped %zu malformed row%s of %s (first at line %lu: %s)\n",
                        st->skipped, st->skipped == 1 ? "" : "s", a->csv, st->first_skipped_line,
                        st->first_skip_reason);
        if (st->thread_skipped > 0)
                fprintf(stderr, "pamprofctl: warning: skipped %zu malformed row%s of the threads CSV\n",
                        st->thread_skipped, st->thread_skipped == 1 ? "" : "s");
        if (st->warning[0])
                fprintf(stderr, "pamprofctl: warning: %s\n", st->warning);
        if (a->json) {
                cJSON *o = cJSON_CreateObject();
                char *s;
                cJSON_AddStringToObject(o, "output", out);
                cJSON_AddNumberToObject(o, "rows", (double) st->rows);
                cJSON_AddNumberToObject(o, "skipped", (double) st->skipped);
                cJSON_AddNumberToObject(o, "thread_rows", (double) st->thread_rows);
                cJSON_AddNumberToObject(o, "events", (double) st->events);
                s = cJSON_PrintUnformatted(o);
                if (s)
                        printf("%s\n", s);
                free(s);
                cJSON_Delete(o);
        } else if (strcmp(out, "-") != 0)
                printf("%s\n", out);
}

static int run(const PlotArgs *a, const char *out, PlotFormat fmt)
{
        _cleanup_close_ int csv = -1, session = -1, threads = -1, fd = -1;
        _cleanup_free_ char *tmp = NULL, *error = NULL;
        PlotOptions o = { .width = a->width,
                          .height = a->height,
                          .title = a->title,
                          .format = fmt,
                          .source_name = a->csv };
        PlotStats st = { 0 };
        char warning[256] = "";
        bool to_stdout = strcmp(out, "-") == 0;
        int r;

        csv = open(a->csv, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (csv < 0) {
                fprintf(stderr, "pamprofctl: cannot open %s: %s\n", a->csv, strerror(errno));
                return EXIT_FAILURE;
        }
        if (!to_stdout && !a->force && access(out, F_OK) == 0) {
                fprintf(stderr, "pamprofctl: %s already exists; add --force to replace it\n", out);
                return EXIT_FAILURE;
        }
        session = open_sibling(a->csv, "session.json", warning, sizeof(warning));
        threads = open_sibling(a->csv, "threads.csv", warning, sizeof(warning));
        if (warning[0])
                fprintf(stderr, "pamprofctl: warning: %s\n", warning);
        fd = to_stdout ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3) : open_temp(out, &tmp);
        if (fd < 0) {
                fprintf(stderr, "pamprofctl: cannot write next to %s: %s\n", out,
                        strerror(fd == -1 ? errno : -fd));
                return EXIT_FAILURE;
        }
        r = plot_render_fd(csv, session, threads, fd, &o, &st, &error);
        if (r == 0 && !to_stdout && close(TAKE_FD(fd)) < 0)
                r = negative_errno();
        if (r == 0 && !to_stdout)
                r = publish(tmp, out, a->force);
        if (r < 0) {
                if (tmp)
                        unlink(tmp);
                if (error)
                        fprintf(stderr, "pamprofctl: %s\n", error);
                else if (r == -EEXIST)
                        fprintf(stderr, "pamprofctl: %s already exists; add --force to replace it\n", out);
                else
                        fprintf(stderr, "pamprofctl: cannot write %s: %s\n", out, strerror(-r));
                return EXIT_FAILURE;
        }
        report(a, out, &st);
        return EXIT_SUCCESS;
}

int cmd_plot(int argc, char *argv[])
{
        _cleanup_free_ char *def = NULL;
        PlotArgs a = { 0 };
        PlotFormat fmt;
        const char *out;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r < 0 ? EXIT_SUCCESS : r;
        out = a.output;
        if (!out) {
                def = default_output(a.csv);
                if (!def)
                        return EXIT_FAILURE;
                out = def;
        }
        if (strcmp(out, "-") == 0)
                fmt = PLOT_FORMAT_PNG;
        else if (plot_format_from_path(out, &fmt) < 0)
                return usage_error("cannot tell the format of '%s': name it .png, .svg or .pdf.", out);
        return run(&a, out, fmt);
}
