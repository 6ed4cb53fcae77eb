/* SPDX-License-Identifier: MIT */
/*
 * Benchmark (prints, asserts nothing): converting a long Austin recording.
 * From TEMPLATE (a real Austin text file, e.g. 20 s of the PAM stand-in
 * recorded by bench-austin.py) it writes MINUTES of recording by replaying
 * the template's sample lines in order until every thread's summed metric
 * reaches the length: once as one file (a session with chunk = 0), and as
 * CHUNKS files (the daemon's default chunk of 10 minutes). Then, each in a
 * process of its own so that its peak RSS is its own (VmHWM):
 *
 *   - austin_convert() of the one file: MB/s of Austin text in, peak RSS;
 *   - what the daemon does with chunks: each converted as its run ends,
 *     then profile_merge() of the converted files at stop.
 *
 *   bench-austin TEMPLATE [MINUTES=60] [CHUNKS=6] [DIR=/tmp]
 *
 * (It runs itself as `bench-austin --convert IN OUT` and `--merge OUT IN...`
 * for each step.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "austin-convert.h"
#include "profile-merge.h"

typedef struct Template {
        char *header; /* "# austin: ..." up to the empty line */
        char **lines; /* sample lines, with their newline */
        size_t n;
        double seconds; /* the longest thread's summed metric */
} Template;

static double mono(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int load_template(const char *path, Template *t)
{
        FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t cap = 0, hlen = 0;
        ssize_t k;
        AustinMeta meta = { 0 };
        struct {
                long tid;
                double s;
        } thr[256];
        size_t n_thr = 0;

        if (!f)
                return -errno;
        *t = (Template){ .header = calloc(1, 4096) };
        while ((k = getline(&line, &cap, f)) > 0) {
                AustinSample s;
                int kind = austin_parse_line(line, (size_t) k - (line[k - 1] == '\n'), &meta, &s);

                if (kind == AUSTIN_LINE_META && t->n == 0 && hlen + (size_t) k < 4000) {
                        memcpy(t->header + hlen, line, (size_t) k);
                        hlen += (size_t) k;
                }
                if (kind != AUSTIN_LINE_SAMPLE || line[k - 1] != '\n')
                        continue;
                t->lines = realloc(t->lines, (t->n + 1) * sizeof(char *));
                t->lines[t->n++] = strdup(line);
                size_t i;
                for (i = 0; i < n_thr && thr[i].tid != s.tid; i++)
                        ;
                if (i == n_thr && n_thr < 256)
                        thr[n_thr++].tid = s.tid, thr[i].s = 0;
                if (i < 256) {
                        thr[i].s += (double) s.time_us / 1e6;
                        if (thr[i].s > t->seconds)
                                t->seconds = thr[i].s;
                }
        }
        memcpy(t->header + hlen, "\n", 2);
        free(line);
        fclose(f);
        return t->n > 0 && t->seconds > 0 ? 0 : -EBADMSG;
}

/* seconds of recording into path (every template line, in order, again and again). */
static int write_recording(const Template *t, const char *path, double seconds, size_t *pos, off_t *ret_size)
{
        FILE *f = fopen(path, "we");
        double done = 0;
        struct stat st;

        if (!f)
                return -errno;
        fputs(t->header, f);
        /* The template's length stands for its lines: replay whole templates' worth, then the rest. */
        for (; done < seconds; done += t->seconds / (double) t->n, *pos = (*pos + 1) % t->n)
                fputs(t->lines[*pos], f);
        fprintf(f, "\n# duration: %.0f\n", seconds * 1e6);
        if (fclose(f) != 0 || stat(path, &st) < 0)
                return -errno;
        *ret_size = st.st_size;
        return 0;
}

typedef struct Cost {
        double wall, cpu;
        long maxrss_kb;
        int status;
} Cost;

/* The process's own peak RSS (VmHWM: of its address space since exec, not of a fork's copy). */
static long vm_hwm_kb(void)
{
        char line[256];
        long kb = -1;
        FILE *f = fopen("/proc/self/status", "re");

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld", &kb) == 1)
                        break;
        if (f)
                fclose(f);
        return kb;
}

/*
 * This program again with argv, so that the work's peak RSS is its own: the
 * child prints its VmHWM on stdout at the end (wait4's ru_maxrss would count
 * the parent's pages the child had between fork and exec).
 */
static Cost in_child(char *const *argv)
{
        struct rusage ru;
        Cost c = { 0 };
        double t0 = mono();
        char buf[64] = "";
        int p[2];
        pid_t pid;

        if (pipe(p) < 0)
                return (Cost){ .status = -1 };
        pid = fork();
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                execv("/proc/self/exe", argv);
                _exit(127);
        }
        close(p[1]);
        if (read(p[0], buf, sizeof(buf) - 1) < 0)
                buf[0] = '\0';
        close(p[0]);
        if (pid < 0 || wait4(pid, &c.status, 0, &ru) < 0) {
                c.status = -1;
                return c;
        }
        c.wall = mono() - t0;
        c.cpu = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
                (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        c.maxrss_kb = atol(buf);
        return c;
}

/* bench-austin --convert IN OUT */
static int convert_job(const char *from, const char *to)
{
        int in = open(from, O_RDONLY | O_CLOEXEC),
            out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        AustinConvertFacts f;
        int r;

        if (in < 0 || out < 0)
                return -errno;
        r = austin_convert(in, out, &(AustinConvertOptions){ .spool_fd = -1 }, &f);
        if (r < 0)
                fprintf(stderr, "convert %s: %s\n", from, f.message);
        close(in);
        close(out);
        return r;
}

/* bench-austin --merge OUT IN... */
static int merge_job(const char *to, char *const *inputs, size_t n)
{
        MergeInput in[64];
        MergeFacts facts = { 0 };
        int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r;

        for (size_t i = 0; i < n && i < 64; i++)
                in[i] = (MergeInput){ .fd = open(inputs[i], O_RDONLY | O_CLOEXEC), .pid = 1 };
        r = profile_merge(in, n, out, &facts);
        for (size_t i = 0; i < n; i++)
                close(in[i].fd);
        close(out);
        return r;
}

static double mb(off_t bytes)
{
        return (double) bytes / 1e6;
}

static off_t size_of(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? st.st_size : 0;
}

int main(int argc, char *argv[])
{
        const char *template = argc > 1 ? argv[1] : NULL;
        char *merge_argv[64 + 4] = { argv[0], (char *) "--merge" };
        double minutes = argc > 2 ? atof(argv[2]) : 60;
        unsigned chunks = argc > 3 ? (unsigned) atoi(argv[3]) : 6;
        const char *dir = argc > 4 ? argv[4] : "/tmp";
        char one[400], one_out[512], merged[512], *raw[64], *conv[64];
        Template t;
        size_t pos = 0;
        off_t size = 0, chunk_bytes = 0;
        Cost c, worst = { 0 };
        double conv_wall = 0;

        if (argc == 4 && strcmp(argv[1], "--convert") == 0) {
                int r = convert_job(argv[2], argv[3]);
                printf("%ld\n", vm_hwm_kb());
                return r < 0;
        }
        if (argc >= 3 && strcmp(argv[1], "--merge") == 0) {
                int r = merge_job(argv[2], argv + 3, (size_t) argc - 3);
                printf("%ld\n", vm_hwm_kb());
                return r < 0;
        }
        if (!template || chunks == 0 || chunks > 64) {
                fprintf(stderr, "usage: bench-austin TEMPLATE [MINUTES=60] [CHUNKS=6] [DIR=/tmp]\n");
                return 2;
        }
        if (load_template(template, &t) < 0) {
                fprintf(stderr, "bench-austin: %s has no Austin samples\n", template);
                return 1;
        }
        printf("template: %s, %zu sample lines, %.1f s of recording\n", template, t.n, t.seconds);

        snprintf(one, sizeof(one), "%s/bench-austin-%d.austin", dir, (int) getpid());
        snprintf(one_out, sizeof(one_out), "%s.speedscope.json", one);
        if (write_recording(&t, one, minutes * 60, &pos, &size) < 0) {
                perror("bench-austin: writing the recording");
                return 1;
        }
        c = in_child((char *[]){ argv[0], (char *) "--convert", one, one_out, NULL });
        printf("one file, %.0f min: %.1f MB of Austin text -> %.1f MB of speedscope in %.2f s "
               "(%.1f MB/s, %.2f s CPU), peak RSS %.1f MB%s\n",
               minutes, mb(size), mb(size_of(one_out)), c.wall, mb(size) / c.wall, c.cpu,
               c.maxrss_kb / 1024.0, c.status ? " FAILED" : "");
        unlink(one);
        unlink(one_out);

        pos = 0;
        for (unsigned i = 0; i < chunks; i++) {
                off_t s;
                if (asprintf(&raw[i], "%s/bench-austin-%d.%u.austin", dir, (int) getpid(), i + 1) < 0 ||
                    asprintf(&conv[i], "%s.speedscope.json", raw[i]) < 0 ||
                    write_recording(&t, raw[i], minutes * 60 / chunks, &pos, &s) < 0)
                        return 1;
                chunk_bytes += s;
                c = in_child((char *[]){ argv[0], (char *) "--convert", raw[i], conv[i], NULL });
                conv_wall += c.wall;
                if (c.maxrss_kb > worst.maxrss_kb)
                        worst = c;
                unlink(raw[i]);
        }
        snprintf(merged, sizeof(merged), "%s/bench-austin-%d.merged.json", dir, (int) getpid());
        merge_argv[2] = merged;
        for (unsigned i = 0; i < chunks; i++)
                merge_argv[3 + i] = conv[i];
        c = in_child(merge_argv);
        printf("%u chunks of %.0f min (the daemon's way): %.1f MB of text converted in %.2f s in all "
               "(%.1f MB/s), peak RSS %.1f MB per chunk; merged into %.1f MB in %.2f s, peak RSS %.1f MB%s\n",
               chunks, minutes / chunks, mb(chunk_bytes), conv_wall, mb(chunk_bytes) / conv_wall,
               worst.maxrss_kb / 1024.0, mb(size_of(merged)), c.wall, c.maxrss_kb / 1024.0,
               c.status ? " FAILED" : "");
        for (unsigned i = 0; i < chunks; i++) {
                unlink(conv[i]);
                free(raw[i]);
                free(conv[i]);
        }
        unlink(merged);
        for (size_t i = 0; i < t.n; i++)
                free(t.lines[i]);
        free(t.lines);
        free(t.header);
        return 0;
}
