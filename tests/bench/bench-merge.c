/* SPDX-License-Identifier: MIT */
/*
 * Benchmark (prints, asserts nothing): merging a long session's py-spy runs.
 * Writes CHUNKS py-spy-shaped speedscope files (THREADS threads, RATE Hz,
 * MINUTES minutes in all, stacks DEPTH deep over a pool of frames), then
 * times profile_merge() over them and reports its peak memory.
 *
 *   bench-merge [MINUTES=60] [CHUNKS=6] [THREADS=12] [RATE=100] [DIR]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profile-merge.h"
#include "time-util.h"

#define DEPTH 24
#define FRAMES 600

static long rss_hwm_kb(void)
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

static void reset_hwm(void)
{
        FILE *f = fopen("/proc/self/clear_refs", "we");

        if (f) {
                fputs("5", f); /* resets VmHWM to the current RSS */
                fclose(f);
        }
}

static int write_chunk(const char *path, unsigned chunk, unsigned threads, unsigned long samples,
                       unsigned rate)
{
        FILE *f = fopen(path, "we");
        unsigned seed = chunk * 7919 + 1;

        if (!f)
                return -1;
        fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"profiles\":[", f);
        for (unsigned t = 0; t < threads; t++) {
                fprintf(f,
                        "%s{\"type\":\"sampled\",\"name\":\"Thread %u \\\"Worker-%u\\\"\",\"unit\":\"seconds\","
                        "\"startValue\":0.0,\"endValue\":%g,\"samples\":[",
                        t ? "," : "", 1000 + t, t, (double) samples / rate);
                for (unsigned long s = 0; s < samples; s++) {
                        unsigned depth = 8 + rand_r(&seed) % (DEPTH - 8);
                        fputs(s ? ",[" : "[", f);
                        for (unsigned d = 0; d < depth; d++)
                                fprintf(f, d ? ",%u" : "%u",
                                        (t * 37 + d * 13 + (d > depth - 3 ? rand_r(&seed) : 0)) % FRAMES);
                        fputc(']', f);
                }
                fputs("],\"weights\":[", f);
                for (unsigned long s = 0; s < samples; s++)
                        fprintf(f, s ? ",%g" : "%g", 1.0 / rate);
                fputs("]}", f);
        }
        fputs("],\"shared\":{\"frames\":[", f);
        for (unsigned i = 0; i < FRAMES; i++)
                fprintf(f,
                        "%s{\"name\":\"func_%u\",\"file\":\"/opt/pam/petal_app_manager/mod_%u.py\",\"line\":%u,"
                        "\"col\":null}",
                        i ? "," : "", i, i % 40, 10 + i);
        fputs("]},\"activeProfileIndex\":null,\"exporter\":\"py-spy@0.3.14\",\"name\":\"py-spy profile\"}\n",
              f);
        return fclose(f);
}

int main(int argc, char *argv[])
{
        unsigned minutes = argc > 1 ? (unsigned) atoi(argv[1]) : 60,
                 chunks = argc > 2 ? (unsigned) atoi(argv[2]) : 6;
        unsigned threads = argc > 3 ? (unsigned) atoi(argv[3]) : 12,
                 rate = argc > 4 ? (unsigned) atoi(argv[4]) : 100;
        char dir[] = "/tmp/pamprof-bench-merge-XXXXXX", path[256];
        unsigned long per_chunk = (unsigned long) minutes * 60 * rate / chunks;
        MergeInput in[64];
        MergeFacts facts = { 0 };
        long long bytes = 0;
        usec_t t0, t1;
        int out, r;

        if (chunks == 0 || chunks > 64 || !mkdtemp(argc > 5 ? argv[5] : dir))
                return 2;
        printf("writing %u chunks: %u threads x %lu samples each, %u Hz (%u minutes)...\n", chunks, threads,
               per_chunk, rate, minutes);
        fflush(stdout);
        for (unsigned c = 0; c < chunks; c++) {
                struct stat st;
                snprintf(path, sizeof(path), "%s/chunk%u.json", dir, c);
                if (write_chunk(path, c, threads, per_chunk, rate) < 0)
                        return 1;
                in[c] = (MergeInput){ .fd = open(path, O_RDONLY | O_CLOEXEC), .pid = 4242 };
                if (fstat(in[c].fd, &st) == 0)
                        bytes += st.st_size;
        }
        snprintf(path, sizeof(path), "%s/merged.json", dir);
        out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        reset_hwm();
        long before = rss_hwm_kb();
        t0 = now(CLOCK_MONOTONIC);
        r = profile_merge(in, chunks, out, &facts);
        t1 = now(CLOCK_MONOTONIC);
        printf("merge: %s; %.1f MB in, %zu profiles, %zu frames, %zu samples in %.2f s (%.0f MB/s); "
               "peak RSS %ld kB (%ld kB above the start)\n",
               r < 0 ? strerror(-r) : "ok", bytes / 1e6, facts.profiles, facts.frames, facts.samples,
               (double) (t1 - t0) / 1e6, bytes / 1e6 / ((double) (t1 - t0) / 1e6), rss_hwm_kb(),
               rss_hwm_kb() - before);
        for (unsigned c = 0; c < chunks; c++) {
                snprintf(path, sizeof(path), "%s/chunk%u.json", dir, c);
                unlink(path);
                close(in[c].fd);
        }
        snprintf(path, sizeof(path), "%s/merged.json", dir);
        unlink(path);
        rmdir(dir);
        return r < 0;
}
