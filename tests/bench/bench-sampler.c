/* SPDX-License-Identifier: MIT */
/*
 * bench-sampler: what one sample costs, and what the same /proc reads cost
 * bare. Printed, never asserted; tests/bench/bench-sampler.py runs it next to
 * a psutil sampler and puts the figures side by side.
 *
 *   bench-sampler cost PID [SAMPLES]
 *       One line per configuration:
 *       mode=NAME sampler_us=X bare_us=Y ratio=X/Y threads=N processes=N
 *       CPU time (user + system, CLOCK_PROCESS_CPUTIME_ID) per sample of a
 *       Sampler in that configuration, and per round of a loop that does
 *       nothing but openat + read + close of the same files:
 *         seed          <pid>/stat
 *         threads       + task/ listing, task/TID/schedstat each, comm of 1/16
 *         pss           <pid>/stat + smaps_rollup
 *         threads+pss   both
 *         children      listing of /proc, every <pid>/stat
 *
 *   bench-sampler watch PID SECONDS [INTERVAL]
 *       Samples every INTERVAL seconds (default 1) on absolute deadlines
 *       with two samplers, one on stat ticks (threads off) and one on
 *       schedstat (threads on), and prints CSV lines
 *       "mono_ns,cpu_percent_ticks,cpu_percent_exact" (share of the machine).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "sampler.h"
#include "time-util.h"

#define MAX_IDS 65536

static char buf[8192];
static char dents[32768];

static usec_t cpu_now(void)
{
        return now(CLOCK_PROCESS_CPUTIME_ID);
}

static void bare_read(int dir_fd, const char *path)
{
        int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return;
        if (read(fd, buf, sizeof(buf)) < 0)
                buf[0] = '\0';
        close(fd);
}

/* Numeric entries of a directory, as the sampler lists them. */
static size_t bare_list(int dir_fd, const char *path, pid_t *ids)
{
        size_t n = 0;
        ssize_t len;
        int fd;

        fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        while ((len = getdents64(fd, dents, sizeof(dents))) > 0)
                for (ssize_t off = 0; off < len;) {
                        struct dirent64 *d = (void *) (dents + off);

                        off += d->d_reclen;
                        if (d->d_name[0] >= '1' && d->d_name[0] <= '9' && n < MAX_IDS)
                                ids[n++] = (pid_t) atoi(d->d_name);
                }
        close(fd);
        return n;
}

typedef enum {
        MODE_SEED,
        MODE_THREADS,
        MODE_PSS,
        MODE_THREADS_PSS,
        MODE_CHILDREN,
        _MODE_MAX,
} Mode;

static const char *const mode_names[_MODE_MAX] = {
        [MODE_SEED] = "seed",         [MODE_THREADS] = "threads",
        [MODE_PSS] = "pss",           [MODE_THREADS_PSS] = "threads+pss",
        [MODE_CHILDREN] = "children",
};

static void bare_round(int proc, pid_t pid, Mode mode, unsigned round, pid_t *ids)
{
        char path[64];
        size_t n;

        if (mode == MODE_CHILDREN) {
                n = bare_list(proc, ".", ids);
                for (size_t i = 0; i < n; i++) {
                        snprintf(path, sizeof(path), "%d/stat", (int) ids[i]);
                        bare_read(proc, path);
                }
                return;
        }
        snprintf(path, sizeof(path), "%d/stat", (int) pid);
        bare_read(proc, path);
        if (mode == MODE_THREADS || mode == MODE_THREADS_PSS) {
                snprintf(path, sizeof(path), "%d/task", (int) pid);
                n = bare_list(proc, path, ids);
                for (size_t i = 0; i < n; i++) {
                        snprintf(path, sizeof(path), "%d/task/%d/schedstat", (int) pid, (int) ids[i]);
                        bare_read(proc, path);
                        if ((ids[i] + round) % 16 == 0) {
                                snprintf(path, sizeof(path), "%d/task/%d/comm", (int) pid, (int) ids[i]);
                                bare_read(proc, path);
                        }
                }
        }
        if (mode == MODE_PSS || mode == MODE_THREADS_PSS) {
                snprintf(path, sizeof(path), "%d/smaps_rollup", (int) pid);
                bare_read(proc, path);
        }
}

static int cost(int proc, pid_t pid, unsigned samples)
{
        _cleanup_free_ pid_t *ids = calloc(MAX_IDS, sizeof(pid_t));

        if (!ids)
                return -ENOMEM;
        for (Mode mode = 0; mode < _MODE_MAX; mode++) {
                SamplerOptions o = {
                        .proc_fd = proc,
                        .threads = mode == MODE_THREADS || mode == MODE_THREADS_PSS,
                        .include_children = mode == MODE_CHILDREN,
                        .pss_interval = mode == MODE_PSS || mode == MODE_THREADS_PSS ? 1 : 0,
                };
                _cleanup_sampler_free_ Sampler *s = NULL;
                unsigned n = mode == MODE_CHILDREN ? samples / 10 + 1 : samples;
                SampleRow row = { 0 };
                usec_t t0, t_sampler, t_bare;
                int r;

                r = sampler_new(&o, &s);
                if (r < 0)
                        return r;
                r = sampler_attach(s, pid, now(CLOCK_MONOTONIC));
                if (r < 0)
                        return r;
                /* Warm up: grow tables, fault in pages. */
                for (unsigned i = 0; i < 10; i++)
                        (void) sampler_sample(s, now(CLOCK_MONOTONIC), &row);

                t0 = cpu_now();
                for (unsigned i = 0; i < n; i++) {
                        r = sampler_sample(s, now(CLOCK_MONOTONIC), &row);
                        if (r < 0 && r != -ESTALE)
                                return r;
                }
                t_sampler = cpu_now() - t0;

                for (unsigned i = 0; i < 10; i++)
                        bare_round(proc, pid, mode, i, ids);
                t0 = cpu_now();
                for (unsigned i = 0; i < n; i++)
                        bare_round(proc, pid, mode, i, ids);
                t_bare = cpu_now() - t0;

                printf("mode=%s sampler_us=%.2f bare_us=%.2f ratio=%.2f threads=%u processes=%u\n",
                       mode_names[mode], (double) t_sampler / n, (double) t_bare / n,
                       t_bare ? (double) t_sampler / (double) t_bare : 0.0, row.threads, row.processes);
                fflush(stdout);
        }
        return 0;
}

static int watch(int proc, pid_t pid, double seconds, double interval)
{
        SamplerOptions ticks_opts = { .proc_fd = proc }, exact_opts = { .proc_fd = proc, .threads = true };
        _cleanup_sampler_free_ Sampler *ticks = NULL, *exact = NULL;
        usec_t step = (usec_t) (interval * USEC_PER_SEC), start, deadline;
        unsigned n = (unsigned) (seconds / interval);
        int r;

        r = sampler_new(&ticks_opts, &ticks);
        if (r < 0)
                return r;
        r = sampler_new(&exact_opts, &exact);
        if (r < 0)
                return r;
        start = now(CLOCK_MONOTONIC);
        if ((r = sampler_attach(ticks, pid, start)) < 0 || (r = sampler_attach(exact, pid, start)) < 0)
                return r;
        printf("%llu,,\n", (unsigned long long) start * NSEC_PER_USEC);

        deadline = start;
        for (unsigned i = 0; i < n; i++) {
                struct timespec ts;
                SampleRow a = { 0 }, b = { 0 };
                usec_t t;

                deadline += step;
                ts.tv_sec = (time_t) (deadline / USEC_PER_SEC);
                ts.tv_nsec = (long) (deadline % USEC_PER_SEC * NSEC_PER_USEC);
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                        ;
                /* One time for both: the two reads are microseconds apart. */
                t = now(CLOCK_MONOTONIC);
                if ((r = sampler_sample(ticks, t, &a)) < 0 || (r = sampler_sample(exact, t, &b)) < 0)
                        return r;
                printf("%llu,%.4f,%.4f\n", (unsigned long long) t * NSEC_PER_USEC, a.cpu_percent,
                       b.cpu_percent);
                fflush(stdout);
        }
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_close_ int proc = -1;
        pid_t pid;
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s cost PID [SAMPLES] | watch PID SECONDS [INTERVAL]\n", argv[0]);
                return 2;
        }
        pid = (pid_t) atoi(argv[2]);
        proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc < 0) {
                perror("/proc");
                return 1;
        }
        if (strcmp(argv[1], "cost") == 0)
                r = cost(proc, pid, argc > 3 ? (unsigned) atoi(argv[3]) : 20000);
        else if (strcmp(argv[1], "watch") == 0 && argc > 3)
                r = watch(proc, pid, atof(argv[3]), argc > 4 ? atof(argv[4]) : 1.0);
        else {
                fprintf(stderr, "%s: unknown command\n", argv[0]);
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[0], strerror(-r));
                return 1;
        }
        return 0;
}
