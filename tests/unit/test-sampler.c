/* SPDX-License-Identifier: MIT */
/*
 * The sampler against fixture trees (tests/fixtures/proc-a, -b, -c: the same
 * process one second apart) and against the real /proc.
 *
 * The sampler keeps descriptors open (the target's directory, its stat, its
 * task/ directory) as it does on /proc, where a file's text changes under
 * the same inode. To play that, the test copies proc-a into a scratch root
 * and then rewrites it in place with proc-b or proc-c: same inodes, new
 * text, entries that are gone removed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "sampler.h"

#define SEC(s) ((usec_t) ((s) *1e6))
#define MIB (1024.0 * 1024.0)

typedef struct Fixture {
        char root[256];
        int fd;
} Fixture;

/* ---- a scratch proc root, synchronised from a fixture tree ---- */

static void sync_tree(int src, int dst);

static void copy_file(int src, int dst, const char *name)
{
        _cleanup_close_ int in = -1, out = -1;
        char buf[8192];
        ssize_t n;

        in = openat(src, name, O_RDONLY | O_CLOEXEC);
        assert_true(in >= 0);
        /* In place: O_TRUNC keeps the inode, so open descriptors see the new text. */
        out = openat(dst, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(out >= 0);
        while ((n = read(in, buf, sizeof(buf))) > 0)
                assert_int_equal(write(out, buf, (size_t) n), n);
        assert_int_equal(n, 0);
}

static void remove_tree(int dir, const char *name)
{
        struct stat st;

        assert_int_equal(fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW), 0);
        if (S_ISDIR(st.st_mode)) {
                int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                DIR *d;
                struct dirent *de;

                assert_true(fd >= 0);
                d = fdopendir(fd);
                assert_non_null(d);
                while ((de = readdir(d)))
                        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                remove_tree(fd, de->d_name);
                closedir(d);
                assert_int_equal(unlinkat(dir, name, AT_REMOVEDIR), 0);
        } else
                assert_int_equal(unlinkat(dir, name, 0), 0);
}

static void sync_tree(int src, int dst)
{
        DIR *d;
        struct dirent *de;
        int fd;

        /* Copy what src has. */
        fd = dup(src);
        d = fdopendir(fd);
        assert_non_null(d);
        rewinddir(d);
        while ((de = readdir(d))) {
                struct stat st;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                assert_int_equal(fstatat(src, de->d_name, &st, 0), 0);
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int s = -1, t = -1;

                        (void) mkdirat(dst, de->d_name, 0755);
                        s = openat(src, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        t = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        assert_true(s >= 0 && t >= 0);
                        sync_tree(s, t);
                } else
                        copy_file(src, dst, de->d_name);
        }
        closedir(d);

        /* Remove what it has not. */
        fd = dup(dst);
        d = fdopendir(fd);
        assert_non_null(d);
        rewinddir(d);
        while ((de = readdir(d))) {
                struct stat st;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (fstatat(src, de->d_name, &st, 0) < 0)
                        remove_tree(dst, de->d_name);
        }
        closedir(d);
}

static void load(Fixture *f, const char *tree)
{
        const char *fixtures = getenv("PAMPROF_FIXTURES");
        _cleanup_close_ int src = -1;
        char path[4096];

        assert_non_null(fixtures);
        snprintf(path, sizeof(path), "%s/%s", fixtures, tree);
        src = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(src >= 0);
        sync_tree(src, f->fd);
}

static void write_file(Fixture *f, const char *relpath, const char *text)
{
        _cleanup_close_ int fd = -1;

        fd = openat(f->fd, relpath, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
}

static int setup(void **state)
{
        Fixture *f = calloc(1, sizeof(*f));
        const char *tmp = getenv("TMPDIR");

        assert_non_null(f);
        snprintf(f->root, sizeof(f->root), "%s/pamprof-test-sampler-XXXXXX", tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->root));
        f->fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->fd >= 0);
        load(f, "proc-a");
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;
        int parent;

        close(f->fd);
        parent = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        remove_tree(parent, f->root + 1);
        close(parent);
        free(f);
        return 0;
}

/* ---- expectations: the fixture trees, figure by figure ---- */

static double ticks_ms(double ticks)
{
        return ticks * 1000.0 / (double) sysconf(_SC_CLK_TCK);
}

static double pages_mib(double pages)
{
        return pages * (double) sysconf(_SC_PAGESIZE) / MIB;
}

static SampleRow sample_ok(Sampler *s, usec_t t)
{
        SampleRow row = { .elapsed = 77.0, .realtime = 42 };

        assert_int_equal(sampler_sample(s, t, &row), 0);
        /* The caller's two figures are left alone. */
        assert_float_equal(row.elapsed, 77.0, 0);
        assert_true(row.realtime == 42);
        assert_true(isnan(row.profiler_cpu_percent) && isnan(row.profiler_rss_mb));
        return row;
}

static void test_seed_columns(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd };
        _cleanup_sampler_free_ Sampler *s = NULL;
        const ThreadSample *t;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_pid(s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        assert_int_equal(sampler_pid(s), 1234);

        load(f, "proc-b");
        row = sample_ok(s, SEC(11));
        /* 42 + 10 ticks in 1 s, 4 CPUs in the fixture's /proc/stat. */
        assert_float_equal(row.cpu_core_percent, ticks_ms(52) / 10, 1e-9);
        assert_float_equal(row.cpu_percent, ticks_ms(52) / 10 / 4, 1e-9);
        assert_float_equal(row.user_core_percent, ticks_ms(42) / 10, 1e-9);
        assert_float_equal(row.system_core_percent, ticks_ms(10) / 10, 1e-9);
        assert_float_equal(row.memory_mb, pages_mib(25856), 1e-9);
        assert_float_equal(row.memory_percent, 100.0 * pages_mib(25856) * 1024 / 4096000, 1e-9);
        assert_true(isnan(row.pss_mb));
        assert_int_equal(row.threads, 4);
        assert_int_equal(row.processes, 1);
        assert_int_equal(row.pid, 1234);
        assert_true(isnan(row.wakeups_per_second)); /* needs the threads */
        assert_int_equal(sampler_threads(s, &t), 0);
}

static void test_late_wakeup(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd };
        _cleanup_sampler_free_ Sampler *s = NULL;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        load(f, "proc-b");
        /* The same 52 ticks, but the sample came 2.5 s after the baseline. */
        row = sample_ok(s, SEC(12.5));
        assert_float_equal(row.cpu_core_percent, ticks_ms(52) / 25, 1e-9);
}

static void test_threads(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd, .threads = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        const ThreadSample *t;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        load(f, "proc-b");
        row = sample_ok(s, SEC(11));

        /* schedstat: 300 + 150 + 55 ms, and 20 ms of thread 1237 born since. */
        assert_float_equal(row.cpu_core_percent, 52.5, 1e-9);
        assert_float_equal(row.cpu_percent, 52.5 / 4, 1e-9);
        assert_float_equal(row.user_core_percent, 52.5 * 42 / 52, 1e-9);
        assert_float_equal(row.system_core_percent, 52.5 * 10 / 52, 1e-9);

        assert_int_equal(sampler_threads(s, &t), 4);
        assert_int_equal(t[0].tid, 1234);
        assert_string_equal(t[0].name, "uvicorn");
        assert_float_equal(t[0].cpu_core_percent, 30.0, 1e-9);
        assert_int_equal(t[1].tid, 1235);
        assert_string_equal(t[1].name, "MAVLinkWorker-1");
        assert_float_equal(t[1].cpu_core_percent, 15.0, 1e-9);
        assert_int_equal(t[2].tid, 1236);
        assert_string_equal(t[2].name, "Redis,Worker \"1\"");
        assert_float_equal(t[2].cpu_core_percent, 5.5, 1e-9);
        assert_int_equal(t[3].tid, 1237);
        assert_string_equal(t[3].name, "MQTTWorker-1");
        assert_float_equal(t[3].cpu_core_percent, 2.0, 1e-9);

        /* Wake-ups, schedstat's third field: 5000 -> 5012, 120000 -> 120857
         * (a poller), 3000 -> 3240, and 40 of 1237 born since; the process
         * is their sum. */
        assert_float_equal(t[0].wakeups_per_second, 12.0, 1e-9);
        assert_float_equal(t[1].wakeups_per_second, 857.0, 1e-9);
        assert_float_equal(t[2].wakeups_per_second, 240.0, 1e-9);
        assert_float_equal(t[3].wakeups_per_second, 40.0, 1e-9);
        assert_float_equal(row.wakeups_per_second, 12 + 857 + 240 + 40, 1e-9);

        /* A thread names itself just after it starts: a new thread's comm is
         * read again on the next sample; older ones only every 16th. */
        write_file(f, "1234/task/1237/comm", "MQTTWorker-2\n");
        write_file(f, "1234/task/1235/comm", "renamed\n");
        sample_ok(s, SEC(12));
        assert_int_equal(sampler_threads(s, &t), 4);
        assert_string_equal(t[3].name, "MQTTWorker-2");
        assert_string_equal(t[1].name, "MAVLinkWorker-1");
        assert_float_equal(t[3].cpu_core_percent, 0.0, 0);
        assert_float_equal(t[1].wakeups_per_second, 0.0, 0); /* nothing moved */
        for (int i = 13; i < 13 + 16; i++)
                sample_ok(s, SEC(i));
        assert_int_equal(sampler_threads(s, &t), 4);
        assert_string_equal(t[1].name, "renamed");
}

static void test_thread_exited(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd, .threads = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        const ThreadSample *t;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        load(f, "proc-c");
        row = sample_ok(s, SEC(11));

        /* Thread 1236 exited: the live threads' 450 ms miss its part; the
         * stat ticks (45 + 15) keep it. */
        assert_float_equal(row.cpu_core_percent, ticks_ms(60) / 10, 1e-9);
        assert_float_equal(row.user_core_percent, ticks_ms(45) / 10, 1e-9);
        assert_int_equal(row.threads, 2);
        assert_int_equal(sampler_threads(s, &t), 3);
        assert_float_equal(t[0].cpu_core_percent, 30.0, 1e-9);
        assert_float_equal(t[1].cpu_core_percent, 15.0, 1e-9);
        /* ... and a row of its own says so: the process's 60 % less the rows' 45 %, on tid 0, so the
         * CSV and the panel account for the whole process (issue 17: thread-per-request servers) */
        assert_int_equal(t[2].tid, 0);
        assert_string_equal(t[2].name, "(ended threads)");
        assert_float_equal(t[2].cpu_core_percent, ticks_ms(60) / 10 - 45.0, 1e-9);
        assert_true(isnan(t[2].wakeups_per_second));
        /* Its wake-ups since the last sample are gone with it: the live
         * threads' 12 + 857. */
        assert_float_equal(row.wakeups_per_second, 12 + 857, 1e-9);
}

static void test_wakeups(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd, .threads = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        const ThreadSample *t;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        load(f, "proc-b");
        /* A late sample: the same counts over the real 2.5 s. */
        row = sample_ok(s, SEC(12.5));
        assert_int_equal(sampler_threads(s, &t), 4);
        assert_float_equal(t[1].wakeups_per_second, 857 / 2.5, 1e-9);
        assert_float_equal(row.wakeups_per_second, (12 + 857 + 240 + 40) / 2.5, 1e-9);

        /* A tid reused by a new thread (its counter starts again): counted
         * from its start, never as a negative or huge figure. */
        write_file(f, "1234/task/1235/schedstat", "1000000 0 30\n");
        row = sample_ok(s, SEC(13));
        assert_int_equal(sampler_threads(s, &t), 4);
        assert_float_equal(t[1].wakeups_per_second, 60.0, 1e-9);
        assert_float_equal(row.wakeups_per_second, 60.0, 1e-9);

        /* A schedstat cut inside its last number is no reading: the thread
         * counts as gone for this sample, not as fewer wake-ups. */
        write_file(f, "1234/task/1236/schedstat", "1155000000 2000000 32");
        row = sample_ok(s, SEC(14));
        assert_int_equal(sampler_threads(s, &t), 3);
        assert_int_equal(t[2].tid, 1237);
}

static void test_wakeups_without_schedstat(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd, .threads = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        const ThreadSample *t;
        SampleRow row;

        /* A kernel without CONFIG_SCHED_INFO has no schedstat: CPU from the
         * threads' ticks, and no wake-up figure rather than a wrong one. */
        assert_int_equal(unlinkat(f->fd, "1234/schedstat", 0), 0);
        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        load(f, "proc-b");
        assert_int_equal(unlinkat(f->fd, "1234/schedstat", 0), 0);
        row = sample_ok(s, SEC(11));
        assert_true(isnan(row.wakeups_per_second));
        assert_int_equal(sampler_threads(s, &t), 4);
        for (int i = 0; i < 4; i++)
                assert_true(isnan(t[i].wakeups_per_second));
        assert_float_equal(row.cpu_core_percent, ticks_ms(52) / 10, 1e-9);
}

static void test_children(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd, .include_children = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        load(f, "proc-b");
        row = sample_ok(s, SEC(11));

        /* Own 52 ticks; children 20+5 (1300), 4+1 (1301, reaped by 1300),
         * 3+1 (1302, new): 34. sshd (1400) is not PAM's. */
        assert_float_equal(row.cpu_core_percent, ticks_ms(52 + 34) / 10, 1e-9);
        assert_float_equal(row.user_core_percent, ticks_ms(42 + 27) / 10, 1e-9);
        assert_float_equal(row.system_core_percent, ticks_ms(10 + 7) / 10, 1e-9);
        assert_int_equal(row.processes, 3);
        assert_int_equal(row.threads, 4 + 2 + 1);
        assert_float_equal(row.memory_mb, pages_mib(25856 + 2560 + 512), 1e-9);
}

static void test_children_threads_pss(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = {
                .proc_fd = f->fd, .include_children = true, .threads = true, .pss_interval = SEC(5)
        };
        _cleanup_sampler_free_ Sampler *s = NULL;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        load(f, "proc-b");
        row = sample_ok(s, SEC(11));
        /* Exact own 525 ms, children's 34 ticks. */
        assert_float_equal(row.cpu_core_percent, 52.5 + ticks_ms(34) / 10, 1e-9);
        /* PSS on the first sample: 82944 + 8192 + 1024 kB. */
        assert_float_equal(row.pss_mb, (82944 + 8192 + 1024) / 1024.0, 1e-9);

        /* Then not before its own interval: 5 s after the first read, give or
         * take half a sampling interval. */
        for (int i = 12; i <= 15; i++) {
                row = sample_ok(s, SEC(i));
                assert_true(isnan(row.pss_mb));
        }
        row = sample_ok(s, SEC(15.6));
        assert_true(isnan(row.pss_mb));
        row = sample_ok(s, SEC(15.98)); /* a sample a little early for its deadline */
        assert_false(isnan(row.pss_mb));
        row = sample_ok(s, SEC(17));
        assert_true(isnan(row.pss_mb));
}

static void test_pss_only_target(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd, .pss_interval = SEC(1) };
        _cleanup_sampler_free_ Sampler *s = NULL;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        row = sample_ok(s, SEC(11));
        assert_float_equal(row.pss_mb, 80.0, 1e-9);
        assert_float_equal(row.cpu_core_percent, 0.0, 0); /* nothing moved */
        row = sample_ok(s, SEC(12));
        assert_float_equal(row.pss_mb, 80.0, 1e-9);
}

static void test_stale_and_gone(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd };
        _cleanup_sampler_free_ Sampler *s = NULL;
        char text[512];
        SampleRow row = { .elapsed = 5 };

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 999, SEC(10)), -ESRCH);
        assert_int_equal(sampler_pid(s), 0);
        assert_int_equal(sampler_sample(s, SEC(11), &row), -ESRCH);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);

        /* Time going back: a new baseline, no row. */
        assert_int_equal(sampler_sample(s, SEC(9), &row), -ESTALE);
        assert_float_equal(row.elapsed, 5, 0);
        row = sample_ok(s, SEC(10));
        assert_float_equal(row.cpu_core_percent, 0.0, 0);

        /* The pid now belongs to another process (another start time). */
        snprintf(text, sizeof(text),
                 "1234 (other) S 1 1234 1234 0 -1 0 0 0 0 0 7 1 0 0 20 0 1 0 %d 0 100 0\n", 77777);
        write_file(f, "1234/stat", text);
        assert_int_equal(sampler_sample(s, SEC(11), &row), -ESTALE);
        assert_int_equal(sampler_pid(s), 1234);
        write_file(f, "1234/stat",
                   "1234 (other) S 1 1234 1234 0 -1 0 0 0 0 0 17 1 0 0 20 0 1 0 77777 0 100 0\n");
        row = sample_ok(s, SEC(12));
        assert_float_equal(row.cpu_core_percent, ticks_ms(10) / 10, 1e-9);

        /* A zombie is gone, and the sampler detaches. */
        write_file(f, "1234/stat",
                   "1234 (other) Z 1 1234 1234 0 -1 0 0 0 0 0 17 1 0 0 20 0 1 0 77777 0 0 0\n");
        assert_int_equal(sampler_sample(s, SEC(13), &row), -ESRCH);
        assert_int_equal(sampler_pid(s), 0);
        assert_int_equal(sampler_sample(s, SEC(14), &row), -ESRCH);
}

static void test_malformed_then_recovers(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd };
        _cleanup_sampler_free_ Sampler *s = NULL;
        SampleRow row;

        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(sampler_attach(s, 1234, SEC(10)), 0);
        write_file(f, "1234/stat", "1234 (py) S 1 1234");
        assert_int_equal(sampler_sample(s, SEC(11), &row), -EBADMSG);
        load(f, "proc-b");
        /* The next call takes a new baseline, then rows again. */
        assert_int_equal(sampler_sample(s, SEC(12), &row), -ESTALE);
        row = sample_ok(s, SEC(13));
        assert_float_equal(row.cpu_core_percent, 0.0, 0);
}

static void test_bad_root(void **state)
{
        Fixture *f = *state;
        SamplerOptions o = { .proc_fd = f->fd };
        Sampler *s = NULL;

        write_file(f, "meminfo", "MemFree: 5 kB\n");
        assert_int_equal(sampler_new(&o, &s), -ENOENT);
        assert_null(s);
        write_file(f, "stat", "intr 5\n");
        assert_int_equal(sampler_new(&o, &s), -EBADMSG);
        assert_null(sampler_free(NULL));
}

/* ---- the real /proc ---- */

static void *spin(void *arg)
{
        volatile int *stop = arg;

        pthread_setname_np(pthread_self(), "spin,ner");
        while (!*stop)
                ;
        return NULL;
}

/* This process's threads as the kernel lists them: one natively, more under
 * qemu-user, whose own threads are the process's too. */
static long own_threads(void)
{
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        long n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void test_real_self(void **state)
{
        long threads = own_threads(); /* before ours starts */
        SamplerOptions o = { .threads = true, .pss_interval = SEC(1) };
        _cleanup_sampler_free_ Sampler *s = NULL;
        _cleanup_close_ int proc = -1;
        volatile int stop = 0;
        const ThreadSample *t;
        struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
        SampleRow row;
        pthread_t th;
        clockid_t spin_clock;
        usec_t t0, t1, p0, p1, s0, s1;
        double process_truth, spin_truth;
        size_t n;
        bool found = false;

        proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(proc >= 0);
        o.proc_fd = proc;
        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(pthread_create(&th, NULL, spin, (void *) &stop), 0);
        assert_int_equal(pthread_getcpuclockid(th, &spin_clock), 0);
        /* The oracle: the kernel's own CPU clocks of the process and of the spinning thread,
         * read around the sampler's two readings (a busy machine gives the thread less than a
         * core; the sampler must say how much it got, not that it got a core). */
        t0 = now(CLOCK_MONOTONIC);
        p0 = now(CLOCK_PROCESS_CPUTIME_ID);
        s0 = now(spin_clock);
        assert_int_equal(sampler_attach(s, getpid(), t0), 0);
        nanosleep(&ts, NULL);
        t1 = now(CLOCK_MONOTONIC);
        row = sample_ok(s, t1);
        p1 = now(CLOCK_PROCESS_CPUTIME_ID);
        s1 = now(spin_clock);
        stop = 1;
        pthread_join(th, NULL);
        process_truth = 100.0 * (double) (p1 - p0) / (double) (t1 - t0);
        spin_truth = 100.0 * (double) (s1 - s0) / (double) (t1 - t0);

        assert_true(spin_truth > 1); /* it ran at all */
        assert_float_equal(row.cpu_core_percent, process_truth, 10);
        assert_float_equal(row.cpu_percent * sysconf(_SC_NPROCESSORS_ONLN), row.cpu_core_percent, 1e-6);
        assert_true(row.memory_mb > 0.1 && row.pss_mb > 0.01);
        assert_int_equal(row.threads, threads + 1);
        assert_int_equal(row.pid, getpid());
        n = sampler_threads(s, &t);
        assert_int_equal(n, threads + 1);
        for (size_t i = 0; i < n; i++)
                if (strcmp(t[i].name, "spin,ner") == 0) {
                        found = true;
                        assert_float_equal(t[i].cpu_core_percent, spin_truth, 10);
                }
        assert_true(found);
}

/* A thread that burns 20 ms of CPU and ends: thread-per-request work. */
static void *burst(void *arg)
{
        usec_t until;

        pthread_setname_np(pthread_self(), "burst");
        until = now(CLOCK_THREAD_CPUTIME_ID) + 20 * USEC_PER_MSEC;
        while (now(CLOCK_THREAD_CPUTIME_ID) < until)
                ;
        return NULL;
}

/* Threads born and ended between two samples: no thread row has their CPU, the process's
 * figure has it (the kernel keeps a dead thread's time): the "(ended threads)" row is the
 * difference, and the rows add up to the process again. */
static void test_real_ended_threads(void **state)
{
        SamplerOptions o = { .threads = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        _cleanup_close_ int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        const ThreadSample *t, *ended = NULL;
        usec_t t0, t1, p0, p1;
        double rows = 0, burned;
        SampleRow row;
        size_t n;

        assert_true(proc >= 0);
        o.proc_fd = proc;
        assert_int_equal(sampler_new(&o, &s), 0);
        t0 = now(CLOCK_MONOTONIC);
        p0 = now(CLOCK_PROCESS_CPUTIME_ID);
        assert_int_equal(sampler_attach(s, getpid(), t0), 0);
        for (int i = 0; i < 10; i++) {
                pthread_t th;

                assert_int_equal(pthread_create(&th, NULL, burst, NULL), 0);
                pthread_join(th, NULL);
        }
        t1 = now(CLOCK_MONOTONIC);
        row = sample_ok(s, t1);
        p1 = now(CLOCK_PROCESS_CPUTIME_ID);
        burned = 100.0 * 0.2 / ((double) (t1 - t0) / 1e6); /* 10 x 20 ms, % of a core */
        n = sampler_threads(s, &t);
        for (size_t i = 0; i < n; i++) {
                rows += t[i].cpu_core_percent;
                if (t[i].tid == 0)
                        ended = &t[i];
        }
        assert_non_null(ended);
        assert_string_equal(ended->name, "(ended threads)");
        /* the process's figure is in clock ticks: within two of them either way */
        assert_float_equal(ended->cpu_core_percent, burned,
                           2 * 100.0 * 0.01 / ((double) (t1 - t0) / 1e6) + 1);
        assert_float_equal(rows, row.cpu_core_percent, 1e-6);
        assert_true(100.0 * (double) (p1 - p0) / (double) (t1 - t0) >= burned - 1);
}

typedef struct Poller {
        volatile int stop;
        volatile unsigned long loops; /* sleeps returned: its wake-ups, as it counts them */
} Poller;

static void *poll_loop(void *arg)
{
        Poller *p = arg;
        struct timespec ms = { .tv_nsec = 1000 * 1000 };

        pthread_setname_np(pthread_self(), "poller");
        while (!p->stop) {
                nanosleep(&ms, NULL);
                p->loops++;
        }
        return NULL;
}

/* A thread in a loop around a 1 ms sleep wakes up to a thousand times a
 * second: the figure is held to the thread's own count of its sleeps over
 * the same interval (a preemption adds one now and then, a busy machine
 * stretches the sleeps: the count follows, whatever it is). */
static void test_real_poller(void **state)
{
        SamplerOptions o = { .threads = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        _cleanup_close_ int proc = -1;
        Poller p = { 0 };
        const ThreadSample *t;
        struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
        unsigned long l0, l1;
        usec_t t0, t1;
        double truth, poller = -1, sum = 0;
        SampleRow row;
        pthread_t th;
        size_t n;

        proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(proc >= 0);
        o.proc_fd = proc;
        assert_int_equal(sampler_new(&o, &s), 0);
        assert_int_equal(pthread_create(&th, NULL, poll_loop, &p), 0);
        nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL); /* named, looping */
        l0 = p.loops;
        t0 = now(CLOCK_MONOTONIC);
        assert_int_equal(sampler_attach(s, getpid(), t0), 0);
        nanosleep(&ts, NULL);
        t1 = now(CLOCK_MONOTONIC);
        row = sample_ok(s, t1);
        l1 = p.loops;
        p.stop = 1;
        pthread_join(th, NULL);
        truth = (double) (l1 - l0) * 1e6 / (double) (t1 - t0);

        n = sampler_threads(s, &t);
        for (size_t i = 0; i < n; i++) {
                if (strcmp(t[i].name, "poller") == 0)
                        poller = t[i].wakeups_per_second;
                sum += t[i].wakeups_per_second;
        }
        print_message("# poller: %.0f wake-ups/s measured, %.0f sleeps/s counted by itself\n", poller,
                      truth);
        assert_true(truth > 50); /* it ran at all */
        /* One sleep or one wake-up apart at each end of the interval, and a few preemptions. */
        assert_float_equal(poller, truth, 0.1 * truth + 2 * 1e6 / (double) (t1 - t0));
        assert_float_equal(row.wakeups_per_second, sum, 1e-6);
        assert_true(row.wakeups_per_second >= poller);
}

static void test_real_child_gone(void **state)
{
        SamplerOptions o = { .include_children = true };
        _cleanup_sampler_free_ Sampler *s = NULL;
        _cleanup_close_ int proc = -1;
        SampleRow row;
        pid_t pid;

        proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(proc >= 0);
        o.proc_fd = proc;
        assert_int_equal(sampler_new(&o, &s), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        assert_int_equal(sampler_attach(s, pid, now(CLOCK_MONOTONIC)), 0);
        row = sample_ok(s, now(CLOCK_MONOTONIC) + 1);
        assert_int_equal(row.processes, 1);

        /* Killed, not yet reaped: a zombie is gone. Then reaped: gone too. */
        kill(pid, SIGKILL);
        usleep(100 * 1000);
        assert_int_equal(sampler_sample(s, now(CLOCK_MONOTONIC), &row), -ESRCH);
        assert_int_equal(sampler_pid(s), 0);
        waitpid(pid, NULL, 0);
        assert_int_equal(sampler_attach(s, pid, now(CLOCK_MONOTONIC)), -ESRCH);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_seed_columns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_late_wakeup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_thread_exited, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wakeups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wakeups_without_schedstat, setup, teardown),
                cmocka_unit_test_setup_teardown(test_children, setup, teardown),
                cmocka_unit_test_setup_teardown(test_children_threads_pss, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pss_only_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale_and_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_then_recovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_root, setup, teardown),
                cmocka_unit_test(test_real_self),
                cmocka_unit_test(test_real_poller),
                cmocka_unit_test(test_real_ended_threads),
                cmocka_unit_test(test_real_child_gone),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
