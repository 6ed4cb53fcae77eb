/* SPDX-License-Identifier: MIT */
/*
 * Render time and peak RSS of the session figure, side by side with the
 * matplotlib figure the seed drew, on the same CSVs (an hour and a day at
 * 1 s). Prints; asserts nothing. The target (issue 4): 86,400 rows in
 * <= 150 ms and <= 20 MB peak RSS, for the whole `pamprofctl plot` process.
 *
 *   bench-plot [--rows N]... [--runs N] [--keep] [--cli PATH] [--python PATH] [--script PATH]
 *
 * Each process is measured from fork to exit, peak RSS from wait4()'s
 * rusage. "in-process" is plot_render_fd() alone, the daemon's path at stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plot.h"

#ifndef BENCH_PLOT_CLI
#define BENCH_PLOT_CLI "plot-cli"
#endif
#ifndef BENCH_PYTHON
#define BENCH_PYTHON "python3"
#endif
#ifndef BENCH_MATPLOTLIB_SCRIPT
#define BENCH_MATPLOTLIB_SCRIPT "plot_matplotlib.py"
#endif

typedef struct Result {
        double ms;       /* median wall time */
        long rss_kb;     /* largest peak RSS seen */
        double inner_ms; /* what the child reported of itself, or NAN */
        int status;      /* exit status of the last run */
} Result;

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double median(double *v, int n)
{
        qsort(v, (size_t) n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A day of PAM as the daemon writes it: idle noise, periodic work, spikes, a restart. */
static int write_csv(const char *path, long rows)
{
        FILE *f = fopen(path, "we");
        unsigned seed = 42;
        double mem = 210;
        long gap_from = rows * 2 / 5, gap_to = gap_from + 60;

        if (!f)
                return -errno;
        fprintf(f,
                "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp,cpu_core_percent,"
                "user_core_percent,system_core_percent,pss_mb,threads,processes,pid,"
                "profiler_cpu_percent,profiler_rss_mb\n");
        for (long i = 0; i < rows; i++) {
                double noise = (rand_r(&seed) % 1000) / 1000.0, cpu;
                long s = 10 + i;

                if (i >= gap_from && i < gap_to)
                        continue;
                cpu = 1.2 + noise + 3.0 * (sin(i / 300.0) > 0.6) + (i % 997 == 0 ? 35 : 0);
                mem += i == gap_to ? -40 : 0.0004;
                fprintf(f,
                        "%.3f,%.3f,%.2f,%.3f,2026-11-27T%02ld:%02ld:%02ld.%03ld+00:00,%.2f,%.2f,%.2f,%s,14,1,%d,%.3f,%.1f\n",
                        (double) i + noise / 100, cpu, mem, mem / 78.2, s / 3600 % 24, s / 60 % 60, s % 60,
                        i % 1000, cpu * 4, cpu * 3.2, cpu * 0.8, i % 5 ? "" : "171.20",
                        i < gap_from ? 48211 : 48390, 2.1 + noise / 4, 38.5);
        }
        return fclose(f) == 0 ? 0 : -errno;
}

/* Runs argv, measures it; the child's stdout is searched for "render_ms=". */
static int run_child(char *const argv[], double *ret_ms, long *ret_rss, double *ret_inner, int *ret_status)
{
        struct rusage ru;
        int pipefd[2], status;
        char out[4096] = "";
        size_t len = 0;
        double t0;
        pid_t pid;
        ssize_t k;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        t0 = now_ms();
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(pipefd[1]);
        while ((k = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
                len += (size_t) k;
        out[len] = '\0';
        close(pipefd[0]);
        if (wait4(pid, &status, 0, &ru) < 0)
                return -errno;
        *ret_ms = now_ms() - t0;
        *ret_rss = ru.ru_maxrss;
        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        *ret_inner = strstr(out, "render_ms=") ? atof(strstr(out, "render_ms=") + 10) : NAN;
        return 0;
}

static Result measure(char *const argv[], int runs)
{
        double ms[16], inner[16];
        Result r = { .inner_ms = NAN };
        int n = 0;

        for (int i = 0; i < runs && i < 16; i++) {
                long rss;
                if (run_child(argv, &ms[n], &rss, &inner[n], &r.status) < 0 || r.status != 0)
                        break;
                r.rss_kb = rss > r.rss_kb ? rss : r.rss_kb;
                n++;
        }
        if (n == 0) {
                r.ms = NAN;
                return r;
        }
        r.ms = median(ms, n);
        if (!isnan(inner[0]))
                r.inner_ms = median(inner, n);
        return r;
}

static double in_process(const char *csv, int runs)
{
        double ms[16];
        int n = 0;

        for (int i = 0; i < runs && i < 16; i++) {
                int in = open(csv, O_RDONLY | O_CLOEXEC), out = open("/dev/null", O_WRONLY | O_CLOEXEC);
                PlotOptions o = { .source_name = csv };
                double t0 = now_ms();
                int r = plot_render_fd(in, -1, -1, out, &o, NULL, NULL);
                ms[n] = now_ms() - t0;
                close(in);
                close(out);
                if (r < 0)
                        return NAN;
                n++;
        }
        return n ? median(ms, n) : NAN;
}

int main(int argc, char *argv[])
{
        static const struct option opts[] = {
                { "rows", required_argument, NULL, 'r' },
                { "runs", required_argument, NULL, 'n' },
                { "keep", no_argument, NULL, 'k' },
                { "cli", required_argument, NULL, 'c' },
                { "python", required_argument, NULL, 'p' },
                { "script", required_argument, NULL, 's' },
                { 0 },
        };
        const char *cli = BENCH_PLOT_CLI, *python = BENCH_PYTHON, *script = BENCH_MATPLOTLIB_SCRIPT;
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        long rows[8] = { 3600, 86400 };
        int nrows = 0, runs = 5, c;
        bool keep = false;
        char dir[4096];

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        if (nrows < 8)
                                rows[nrows++] = atol(optarg);
                        break;
                case 'n':
                        runs = atoi(optarg) > 0 ? atoi(optarg) : 1;
                        break;
                case 'k':
                        keep = true;
                        break;
                case 'c':
                        cli = optarg;
                        break;
                case 'p':
                        python = optarg;
                        break;
                case 's':
                        script = optarg;
                        break;
                default:
                        return 2;
                }
        if (nrows == 0)
                nrows = 2;
        snprintf(dir, sizeof(dir), "%s/bench-plot.XXXXXX", tmp);
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        printf("%-7s | %-22s | %-28s | %-28s | %s\n", "rows", "plot_render_fd (ms)",
               "pamprofctl plot: ms, peak RSS", "matplotlib: ms, peak RSS", "matplotlib after imports (ms)");
        for (int i = 0; i < nrows; i++) {
                char csv[4200], png[4200], mpl[4200], size[32];
                Result ours, theirs;
                double inproc;

                snprintf(csv, sizeof(csv), "%s/pam_bench_20261127_203410_cpu.csv", dir);
                snprintf(png, sizeof(png), "%s/pam_bench_%ld_cpu.png", dir, rows[i]);
                snprintf(mpl, sizeof(mpl), "%s/pam_bench_%ld_matplotlib.png", dir, rows[i]);
                if (write_csv(csv, rows[i]) < 0) {
                        perror("writing the CSV");
                        return 1;
                }
                char *ours_argv[] = { (char *) cli, csv, (char *) "-o", png, (char *) "--force", NULL };
                char *mpl_argv[] = { (char *) python, (char *) script, csv, mpl, NULL };
                /* One unmeasured run each, so the font and page caches are warm for both. */
                measure(ours_argv, 1);
                inproc = in_process(csv, runs);
                ours = measure(ours_argv, runs);
                measure(mpl_argv, 1);
                theirs = measure(mpl_argv, runs > 3 ? 3 : runs);
                snprintf(size, sizeof(size), "%ld", rows[i]);
                printf("%-7s | %22.1f | %12.1f ms, %7.1f MB | %12.1f ms, %7.1f MB | %.1f%s\n", size, inproc,
                       ours.ms, ours.rss_kb / 1024.0, theirs.ms, theirs.rss_kb / 1024.0, theirs.inner_ms,
                       theirs.status ? "  (matplotlib failed)" : "");
        }
        if (keep)
                printf("\nimages and CSV kept in %s\n", dir);
        else {
                char cmd[4300];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", dir);
        }
        return 0;
}
