/* SPDX-License-Identifier: MIT */
/*
 * The Austin backend as the session code sees it (profiler.h): its command
 * line, the options it refuses, the judge of each way a run ends (Austin's
 * exit statuses and files, recorded from 3.7.0), and the conversion of what
 * a crashed daemon left in staging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert-child.h"
#include "profiler.h"

static char *fixture_path(const char *name)
{
        const char *dir = getenv("PAMPROF_FIXTURES");
        char *p = NULL;

        assert_true(asprintf(&p, "%s/austin/%s", dir ? dir : "tests/fixtures", name) > 0);
        return p;
}

/* A copy of a fixture (or of its first n bytes; 0: all) as an open, unlinked file. */
static int fixture_fd(const char *name, size_t n)
{
        char *path = fixture_path(name), tmp[] = "/tmp/test-austin-backend-XXXXXX", buf[65536];
        int in = open(path, O_RDONLY | O_CLOEXEC), out = mkstemp(tmp);
        size_t done = 0;
        ssize_t k;

        assert_true(in >= 0 && out >= 0);
        unlink(tmp);
        while ((k = read(in, buf, sizeof(buf))) > 0 && (n == 0 || done < n)) {
                size_t w = n && done + (size_t) k > n ? n - done : (size_t) k;
                assert_int_equal(write(out, buf, w), (ssize_t) w);
                done += w;
        }
        close(in);
        free(path);
        return out;
}

static void test_argv_and_options(void **state)
{
        char **argv = NULL;
        char why[256];
        ProfilerRequest q = { .pid = 42, .rate = 100, .idle = true, .output = "/s/x.1.austin" };
        const char *want[] = { "/usr/bin/austin", "-P", "-i", "10000", "-t", "1000", "-p", "42", "-o",
                               "/s/x.1.austin",   NULL };

        assert_ptr_equal(profiler_backend_find("austin"), &austin_backend);
        assert_ptr_equal(profiler_backends[0], &pyspy_backend); /* the default */
        assert_null(profiler_backend_find("perf"));
        assert_string_equal(profiler_backend_names(), "py-spy or austin");

        assert_int_equal(austin_backend.build_argv("/usr/bin/austin", &q, &argv), 0);
        for (size_t i = 0; want[i]; i++)
                assert_string_equal(argv[i], want[i]);
        assert_null(argv[10]);
        strv_free(argv);
        q = (ProfilerRequest){ .pid = 42, .rate = 250, .idle = false, .subprocesses = true, .output = "/o" };
        assert_int_equal(austin_backend.build_argv("austin", &q, &argv), 0);
        assert_string_equal(argv[3], "4000");
        assert_string_equal(argv[6], "-s");
        assert_string_equal(argv[7], "-C");
        strv_free(argv);

        assert_int_equal(
                profiler_check_choice("austin", &(ProfilerRequest){ .nonblocking = true }, why, sizeof(why)),
                0);
        assert_int_equal(
                profiler_check_choice("austin", &(ProfilerRequest){ .native = true }, why, sizeof(why)),
                -EINVAL);
        assert_non_null(strstr(why, "--native needs --profiler py-spy"));
        assert_int_equal(
                profiler_check_choice("austin", &(ProfilerRequest){ .gil = true }, why, sizeof(why)),
                -EINVAL);
        assert_non_null(strstr(why, "GIL"));
        assert_int_equal(profiler_check_choice("py-spy", &(ProfilerRequest){ .native = true, .gil = true },
                                               why, sizeof(why)),
                         0);
        assert_int_equal(profiler_check_choice("pyspy", &(ProfilerRequest){ 0 }, why, sizeof(why)), -EINVAL);
        assert_string_equal(why,
                            "There is no profiler called \"pyspy\": use py-spy or austin (--profiler NAME, "
                            "or the profiler key in pamprofd.conf).");

        /* Each names the config key of its executable (test-config reads them back). */
        assert_string_equal(austin_backend.path_key, "austin_path");
        assert_string_equal(pyspy_backend.path_key, "pyspy_path");
}

static ProfileJudgement judge(int fd, ProfilerExit e)
{
        ProfileJudgement j;

        e.target = e.target ? e.target : 1234;
        e.grace = e.grace ? e.grace : 3;
        e.last_line = e.last_line ? e.last_line : "no output";
        austin_backend.judge(fd, &e, &j);
        return j;
}

static void test_judge_finished_files(void **state)
{
        int fd = fixture_fd("wall.austin", 0);
        ProfileJudgement j;

        /* SIGINT from pamprofd: exit 254, a whole file, nothing to say */
        j = judge(fd, (ProfilerExit){ .code = 254, .stop_sent = true });
        assert_int_equal(j.verdict, PROFILE_OK);
        assert_int_equal(j.size, 67914);
        assert_string_equal(j.reason, "");
        j = judge(fd, (ProfilerExit){ .code = 241 });
        assert_int_equal(j.verdict, PROFILE_OK);
        assert_string_equal(j.reason, "a SIGTERM from outside pamprofd ended it, with a complete file");
        j = judge(fd, (ProfilerExit){ .code = 0 });
        assert_int_equal(j.verdict, PROFILE_OK);
        assert_string_equal(j.reason, "pid 1234 exited and Austin finished its file");
        /* The same exit while the target still runs (its pidfd says so): Austin stopped early. */
        j = judge(fd, (ProfilerExit){ .code = 0, .target_alive = true });
        assert_int_equal(j.verdict, PROFILE_OK);
        assert_string_equal(
                j.reason,
                "Austin ended by itself (exit 0, a complete file) while pid 1234 was still running");
        assert_false(j.final);
        j = judge(fd, (ProfilerExit){ .code = 7, .stop_sent = true });
        assert_int_equal(j.verdict, PROFILE_OK);
        assert_string_equal(j.reason, "exit 7, but a complete file");
        close(fd);
}

static void test_judge_cut_files(void **state)
{
        int fd = fixture_fd("cut.austin", 0), head;
        ProfileJudgement j;

        j = judge(fd, (ProfilerExit){ .code = -1, .signal = 9, .stop_sent = true, .killed = true });
        assert_int_equal(j.verdict, PROFILE_PARTIAL);
        assert_string_equal(j.reason,
                            "Austin did not finish its file within 3s of SIGINT and was killed; its file "
                            "is cut short (28672 bytes) and is used up to its last whole line");
        j = judge(fd, (ProfilerExit){ .code = -1, .signal = 9 });
        assert_int_equal(j.verdict, PROFILE_PARTIAL);
        assert_non_null(strstr(j.reason, "Austin was killed by signal 9 (not by pamprofd)"));
        j = judge(fd, (ProfilerExit){ .code = 139, .last_line = "Segmentation fault" });
        assert_int_equal(j.verdict, PROFILE_PARTIAL);
        assert_non_null(
                strstr(j.reason, "exited with status 139 without finishing its file (Segmentation fault)"));
        close(fd);

        /* the header alone, and a first sample line cut: nothing usable */
        head = fixture_fd("cut.austin", 70);
        j = judge(head, (ProfilerExit){ .code = -1, .signal = 9, .stop_sent = true, .killed = true });
        assert_int_equal(j.verdict, PROFILE_LOST);
        assert_non_null(
                strstr(j.reason, "killed by signal 9 before it wrote a sample (it did not stop on SIGINT)"));
        close(head);
}

static void test_judge_exit_statuses(void **state)
{
        int empty = fixture_fd("wall.austin", 0);
        ProfileJudgement j;

        assert_int_equal(ftruncate(empty, 0), 0);
        j = judge(empty, (ProfilerExit){ .code = 36 });
        assert_int_equal(j.verdict, PROFILE_FAILED);
        assert_string_equal(j.reason, "pid 1234 is not running: Austin could not attach to it (exit 36)");
        assert_true(j.final);
        assert_true(j.no_target); /* if the target has exited since, that is all it means */
        j = judge(-1, (ProfilerExit){ .code = 32 });
        assert_int_equal(j.verdict, PROFILE_FAILED);
        assert_non_null(strstr(j.reason, "\"not a Python process\""));
        assert_non_null(strstr(j.reason, "either pid 1234 is not Python, or it is a permission problem"));
        assert_non_null(strstr(j.reason, "CAP_SYS_PTRACE"));
        assert_true(j.final); /* exit 32: another run gets the same answer */
        j = judge(empty, (ProfilerExit){ .code = 37 });
        assert_non_null(strstr(j.reason, "permission denied"));
        assert_true(j.final);
        assert_false(j.no_target);
        j = judge(empty, (ProfilerExit){ .code = 35 });
        assert_non_null(strstr(j.reason, "timed out"));
        assert_false(j.final); /* PAM may still be starting: worth another try */
        j = judge(empty, (ProfilerExit){ .code = 3 });
        assert_non_null(strstr(j.reason, "which Python"));
        j = judge(empty, (ProfilerExit){ .code = 0 });
        assert_string_equal(j.reason, "pid 1234 exited before Austin took a sample");
        j = judge(empty, (ProfilerExit){ .code = 0, .target_alive = true });
        assert_string_equal(j.reason,
                            "Austin ended by itself (exit 0) before it took a sample, while pid 1234 "
                            "was still running");
        assert_false(j.final);
        j = judge(empty, (ProfilerExit){ .code = -1, .signal = 11 });
        assert_false(j.final);
        j = judge(empty, (ProfilerExit){ .code = 2, .last_line = "austin: unrecognized option" });
        assert_string_equal(j.reason, "Austin exited with status 2: austin: unrecognized option");
        assert_int_equal(pwrite(empty, "{\"not\": \"austin\"}\n", 18, 0), 18);
        j = judge(empty, (ProfilerExit){ .code = 1 });
        assert_int_equal(j.verdict, PROFILE_FAILED);
        assert_non_null(strstr(j.reason, "its file (18 bytes) is not Austin's text output"));
        close(empty);
}

/* The conversions run in children on an event loop, as in the daemon: these wait for them. */
typedef struct Wait {
        bool done;
        size_t converted;
        ProfileConvertResult res;
        ConvertChild *child;
        Leftovers *leftovers;
} Wait;

static void loop_until(sd_event *e, const bool *done)
{
        usec_t deadline = now(CLOCK_MONOTONIC) + 60 * USEC_PER_SEC;

        while (!*done && now(CLOCK_MONOTONIC) < deadline)
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        assert_true(*done);
}

static void on_converted(const ProfileConvertResult *res, void *userdata)
{
        Wait *w = userdata;

        w->res = *res;
        w->child = convert_child_free(w->child);
        w->done = true;
}

static int convert_staged(sd_event *e, const ProfilerBackend *b, int staging, const char *raw,
                          const char *out, const char *version, ProfileConvertResult *ret)
{
        Wait w = { 0 };
        int r = convert_child_start(e,
                                    &(ConvertSpec){ .backend = b,
                                                    .staging_fd = staging,
                                                    .raw_name = raw,
                                                    .out_name = out,
                                                    .version = version },
                                    on_converted, &w, &w.child);

        if (r < 0)
                return r;
        loop_until(e, &w.done);
        *ret = w.res;
        return w.res.r;
}

static void on_leftovers(size_t converted, void *userdata)
{
        Wait *w = userdata;

        w->converted = converted;
        w->leftovers = leftovers_free(w->leftovers);
        w->done = true;
}

static size_t convert_leftovers(sd_event *e, int staging, const char *id)
{
        Wait w = { 0 };

        if (leftovers_convert_start(e, staging, id, on_leftovers, &w, &w.leftovers) <= 0)
                return 0;
        loop_until(e, &w.done);
        return w.converted;
}

/* What a crashed daemon leaves: ID.N.austin and ID.N.threads, converted for recovery. */
static void test_leftovers_are_converted(void **state)
{
        char dir[] = "/tmp/test-austin-staging-XXXXXX", path[256];
        int staging, raw, names, out, cut;
        struct stat st;
        ProfileCheck check;
        ProfileConvertResult res;
        sigset_t ss;
        sd_event *e = NULL;

        /* As main() does: the loop's child sources need SIGCHLD blocked. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        assert_int_equal(sd_event_new(&e), 0);
        assert_non_null(mkdtemp(dir));
        staging = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(staging >= 0);
        raw = fixture_fd("wall.austin", 0);
        names = fixture_fd("wall.threads", 0);
        cut = fixture_fd("cut.austin", 0);
        for (int i = 0; i < 3; i++) {
                static const char *const dst[] = { "pam_x_1.1.austin", "pam_x_1.1.threads",
                                                   "pam_x_1.2.austin" };
                int src = i == 0 ? raw : i == 1 ? names : cut, d;
                char buf[65536];
                ssize_t k;
                assert_int_equal(lseek(src, 0, SEEK_SET), 0);
                d = openat(staging, dst[i], O_WRONLY | O_CREAT | O_EXCL, 0600);
                assert_true(d >= 0);
                while ((k = read(src, buf, sizeof(buf))) > 0)
                        assert_int_equal(write(d, buf, (size_t) k), k);
                close(d);
                close(src);
        }
        /* someone else's session, and a file that is not a run's */
        close(openat(staging, "pam_y_1.1.austin", O_WRONLY | O_CREAT, 0600));
        close(openat(staging, "pam_x_1.x.austin", O_WRONLY | O_CREAT, 0600));

        assert_int_equal(convert_leftovers(e, staging, "pam_x_1"), 2);
        for (int n = 1; n <= 2; n++) {
                snprintf(path, sizeof(path), "pam_x_1.%d.speedscope.json", n);
                out = openat(staging, path, O_RDONLY);
                assert_true(out >= 0);
                profile_check_fd(out, &check);
                assert_true(check.complete);
                close(out);
                snprintf(path, sizeof(path), "pam_x_1.%d.austin", n);
                assert_int_equal(fstatat(staging, path, &st, 0), -1);
        }
        assert_int_equal(fstatat(staging, "pam_x_1.1.threads", &st, 0), -1);
        assert_int_equal(fstatat(staging, "pam_y_1.1.austin", &st, 0), 0);
        assert_int_equal(fstatat(staging, "pam_x_1.x.austin", &st, 0), 0);
        /* converted already: nothing more to do */
        assert_int_equal(convert_leftovers(e, staging, "pam_x_1"), 0);

        /* py-spy has no converter */
        assert_int_equal(convert_staged(e, &pyspy_backend, staging, "pam_x_1.1.speedscope.json", "z.json",
                                        NULL, &res),
                         -EOPNOTSUPP);
        /* a conversion that fails leaves no output behind */
        assert_int_equal(
                convert_staged(e, &austin_backend, staging, "pam_y_1.1.austin", "y.json", NULL, &res),
                0); /* an empty file: a document with no profiles */
        close(openat(staging, "bad.austin", O_WRONLY | O_CREAT, 0600));
        raw = openat(staging, "bad.austin", O_WRONLY | O_TRUNC);
        assert_int_equal(write(raw, "# austin: 3.7.0\n# mode: memory\n", 31), 31);
        close(raw);
        assert_int_equal(
                convert_staged(e, &austin_backend, staging, "bad.austin", "bad.json", "austin 3.7.0", &res),
                -ENOTSUP);
        assert_non_null(strstr(res.message, "memory mode"));
        assert_int_equal(fstatat(staging, "bad.json", &st, 0), -1);
        assert_int_equal(fstatat(staging, ".bad.json.tmp", &st, 0), -1);

        {
                static const char *const left[] = { "pam_x_1.1.speedscope.json",
                                                    "pam_x_1.2.speedscope.json",
                                                    "pam_y_1.1.austin",
                                                    "pam_x_1.x.austin",
                                                    "y.json",
                                                    "bad.austin" };
                for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
                        assert_int_equal(unlinkat(staging, left[i], 0), 0);
        }
        close(staging);
        assert_int_equal(rmdir(dir), 0);
        sd_event_unref(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_argv_and_options),        cmocka_unit_test(test_judge_finished_files),
                cmocka_unit_test(test_judge_cut_files),         cmocka_unit_test(test_judge_exit_statuses),
                cmocka_unit_test(test_leftovers_are_converted),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
