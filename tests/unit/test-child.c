/* SPDX-License-Identifier: MIT */
/*
 * Worker children (daemon/exec/child.h): the result comes back through the event loop, a crash
 * and a time-out say so, the loop runs its other sources meanwhile, a cancelled child is killed
 * and reaped, and the unprivileged ones' identity and descriptors; the waiting form too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"

typedef struct Identity {
        unsigned uid, euid, gid, groups;
        unsigned long long cap_eff, cap_prm, cap_amb;
        int no_new_privs;
        unsigned prepare_euid; /* who prepare ran as */
        int nice;
        int fds[16]; /* the descriptors above 2 the work saw, -1 after the last */
} Identity;

/* What one child reported, and when. */
typedef struct Outcome {
        bool done;
        bool in_start; /* done() ran from inside child_start() */
        int r;
        char error[256];
        bool timed_out;
        _Alignas(max_align_t) unsigned char out[128 * 1024];
        unsigned ticks; /* of the timer beside it, when done() ran */
} Outcome;

typedef struct Fixture {
        sd_event *e;
        Child *child;
        Outcome o;
        bool starting;
        size_t out_size; /* of the child running */
        unsigned ticks;
        sd_event_source *ticker;
} Fixture;

static int setup(void **state)
{
        Fixture *f = calloc(1, sizeof(*f));
        sigset_t ss;

        /* As main() does: the loop's child sources need SIGCHLD blocked. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->e), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;

        child_free(f->child);
        sd_event_source_disable_unref(f->ticker);
        sd_event_unref(f->e);
        free(f);
        return 0;
}

static void on_done(Child *c, const ChildResult *res, void *userdata)
{
        Fixture *f = userdata;

        f->o.done = true;
        f->o.in_start = f->starting;
        f->o.r = res->r;
        f->o.timed_out = res->timed_out;
        f->o.ticks = f->ticks;
        snprintf(f->o.error, sizeof(f->o.error), "%s", res->error ? res->error : "");
        memcpy(f->o.out, res->out, f->out_size);
        f->child = child_free(f->child); /* freed from its own done(), as the daemon does */
}

/* Starts spec and runs the loop until done() (at most limit_s seconds). */
static void run(Fixture *f, const ChildSpec *spec, int limit_s)
{
        usec_t deadline = now(CLOCK_MONOTONIC) + (usec_t) limit_s * USEC_PER_SEC;

        f->starting = true;
        f->out_size = spec->out_size;
        assert_int_equal(child_start(f->e, spec, on_done, f, &f->child), 0);
        f->starting = false;
        assert_true(child_pid(f->child) > 0);
        while (!f->o.done && now(CLOCK_MONOTONIC) < deadline)
                assert_true(sd_event_run(f->e, 100 * USEC_PER_MSEC) >= 0);
        assert_true(f->o.done);
        assert_false(f->o.in_start);
}

static int who_am_i(void *arg, void *out, char **err)
{
        Identity *id = out;
        char line[256];
        FILE *f = fopen("/proc/self/status", "re");
        DIR *d;
        struct dirent *de;
        size_t n = 0;
        long limit = sysconf(_SC_OPEN_MAX); /* valgrind keeps its own above it */

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "Uid: %u %u", &id->uid, &id->euid);
                sscanf(line, "Gid: %u", &id->gid);
                sscanf(line, "CapEff: %llx", &id->cap_eff);
                sscanf(line, "CapPrm: %llx", &id->cap_prm);
                sscanf(line, "CapAmb: %llx", &id->cap_amb);
                sscanf(line, "NoNewPrivs: %d", &id->no_new_privs);
        }
        fclose(f);
        id->groups = (unsigned) getgroups(0, NULL);
        id->nice = getpriority(PRIO_PROCESS, 0);
        d = opendir("/proc/self/fd");
        if (!d)
                return -errno;
        while ((de = readdir(d)) && n < 15) {
                int fd = atoi(de->d_name);
                if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && fd < limit)
                        id->fds[n++] = fd;
        }
        id->fds[n] = -1;
        closedir(d);
        return 0;
}

static int note_prepare(void *arg, void *out, char **err)
{
        ((Identity *) out)->prepare_euid = (unsigned) geteuid();
        return 0;
}

static size_t count_fds(const Identity *id)
{
        size_t n = 0;

        while (id->fds[n] >= 0)
                n++;
        return n;
}

static void test_unprivileged_child(void **state)
{
        Fixture *f = *state;
        int given = open("/dev/null", O_RDONLY | O_CLOEXEC), other = open("/dev/null", O_RDONLY | O_CLOEXEC);
        const Identity *id = (const Identity *) f->o.out;

        assert_true(given > 2 && other > 2);
        run(f,
            &(ChildSpec){ .prepare = note_prepare,
                          .work = who_am_i,
                          .out_size = sizeof(Identity),
                          .unprivileged = true,
                          .uid = 1234,
                          .gid = 4321,
                          .fds = &given,
                          .n_fds = 1 },
            10);
        assert_int_equal(f->o.r, 0);
        assert_string_equal(f->o.error, "");
        assert_int_equal(id->cap_eff, 0);
        assert_int_equal(id->cap_prm, 0);
        assert_int_equal(id->cap_amb, 0);
        assert_int_equal(id->no_new_privs, 1);
        /* Background work: below the daemon (and PAM) for a core. */
        assert_int_equal(id->nice, 10);
        /* Only what it was given (and its pipe): not the daemon's other descriptors. */
        assert_int_equal(count_fds(id), 2);
        assert_true(id->fds[0] == given || id->fds[1] == given);
        assert_true(id->fds[0] != other && id->fds[1] != other);
        /* prepare runs with the daemon's rights, the work without them */
        assert_int_equal(id->prepare_euid, (unsigned) geteuid());
        if (geteuid() == 0) {
                assert_int_equal(id->uid, 1234);
                assert_int_equal(id->euid, 1234);
                assert_int_equal(id->gid, 4321);
                assert_int_equal(id->groups, 0);
                /* Files owned by root, or the daemon's own ((uid_t) -1): nobody, never root. */
                for (int i = 0; i < 2; i++) {
                        memset(&f->o, 0, sizeof(f->o));
                        run(f,
                            &(ChildSpec){ .work = who_am_i,
                                          .out_size = sizeof(Identity),
                                          .unprivileged = true,
                                          .uid = i ? (uid_t) -1 : 0,
                                          .gid = i ? (gid_t) -1 : 0 },
                            10);
                        assert_int_equal(id->euid, 65534);
                        assert_int_equal(id->gid, 65534);
                        assert_int_equal(id->cap_eff, 0);
                }
        } else
                assert_int_equal(id->euid, (unsigned) geteuid());
        /* The plain kind keeps the daemon's identity. */
        memset(&f->o, 0, sizeof(f->o));
        run(f, &(ChildSpec){ .work = who_am_i, .out_size = sizeof(Identity) }, 10);
        assert_int_equal(id->euid, (unsigned) geteuid());
        assert_int_equal(id->no_new_privs, 0);
        assert_int_equal(count_fds(id), 1);
        close(given);
        close(other);
}

/* 128 KiB of out (twice a pipe's buffer), then a sentence: both arrive, nothing deadlocks. */
static int big_answer(void *arg, void *out, char **err)
{
        unsigned char *p = out;

        for (size_t i = 0; i < 128 * 1024; i++)
                p[i] = (unsigned char) (i * 7 + 3);
        *err = strdup("all of it");
        return 42;
}

static int tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        Fixture *f = userdata;

        f->ticks++;
        (void) sd_event_source_set_time_relative(s, 10 * USEC_PER_MSEC);
        return 0;
}

/* Half a second of work while a 10 ms timer ticks on the same loop. */
static int slow_answer(void *arg, void *out, char **err)
{
        usleep(500 * 1000);
        return big_answer(arg, out, err);
}

static void test_result_comes_back_through_the_loop(void **state)
{
        Fixture *f = *state;

        assert_int_equal(sd_event_add_time_relative(f->e, &f->ticker, CLOCK_MONOTONIC, 10 * USEC_PER_MSEC, 1,
                                                    tick, f),
                         0);
        assert_int_equal(sd_event_source_set_enabled(f->ticker, SD_EVENT_ON), 0);
        run(f, &(ChildSpec){ .work = slow_answer, .out_size = 128 * 1024 }, 10);
        assert_int_equal(f->o.r, 42);
        assert_string_equal(f->o.error, "all of it");
        for (size_t i = 0; i < 128 * 1024; i++)
                if (f->o.out[i] != (unsigned char) (i * 7 + 3))
                        fail_msg("byte %zu of the answer is %u", i, f->o.out[i]);
        /* The loop went on: 500 ms at 10 ms a tick is 50; a loaded machine still gives 10. */
        assert_true(f->o.ticks >= 10);
}

static int crashes(void *arg, void *out, char **err)
{
        abort();
}

static int hangs(void *arg, void *out, char **err)
{
        pause();
        return 0;
}

static void test_crash_and_time_limit(void **state)
{
        Fixture *f = *state;
        usec_t t0;

        run(f, &(ChildSpec){ .work = crashes, .out_size = 16 }, 10);
        assert_int_equal(f->o.r, -ECHILD);
        assert_false(f->o.timed_out);
        assert_string_equal(f->o.error, "the worker process died (signal 6)");
        for (size_t i = 0; i < 16; i++)
                assert_int_equal(f->o.out[i], 0);

        memset(&f->o, 0, sizeof(f->o));
        t0 = now(CLOCK_MONOTONIC);
        run(f, &(ChildSpec){ .work = hangs, .out_size = 16, .timeout = 300 * USEC_PER_MSEC }, 10);
        assert_int_equal(f->o.r, -ETIMEDOUT);
        assert_true(f->o.timed_out);
        assert_string_equal(f->o.error, "the worker process did not finish within 0.3 s and was killed");
        assert_true(now(CLOCK_MONOTONIC) - t0 < 5 * USEC_PER_SEC);
}

static void test_cancel_kills_and_reaps(void **state)
{
        Fixture *f = *state;
        pid_t pid;

        assert_int_equal(child_start(f->e, &(ChildSpec){ .work = hangs }, on_done, f, &f->child), 0);
        pid = child_pid(f->child);
        assert_true(pid > 0);
        f->child = child_free(f->child);
        /* gone and reaped: no zombie left, no done() to come */
        assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        assert_int_equal(sd_event_run(f->e, 100 * USEC_PER_MSEC), 0);
        assert_false(f->o.done);
}

static void test_remove_in_a_child(void **state)
{
        Fixture *f = *state;
        char dir[] = "/tmp/test-child-XXXXXX";
        const char *names[] = { "a", "b", "missing" };
        int dfd;

        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        close(openat(dfd, "a", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        close(openat(dfd, "b", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        close(openat(dfd, "c", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        f->starting = true;
        assert_int_equal(child_remove_start(f->e, dfd, names, 3, on_done, f, &f->child), 0);
        f->starting = false;
        while (!f->o.done)
                assert_true(sd_event_run(f->e, 100 * USEC_PER_MSEC) >= 0);
        assert_int_equal(f->o.r, 2); /* two were there */
        assert_int_equal(faccessat(dfd, "a", F_OK, 0), -1);
        assert_int_equal(faccessat(dfd, "b", F_OK, 0), -1);
        assert_int_equal(faccessat(dfd, "c", F_OK, 0), 0); /* not named: kept */
        assert_int_equal(unlinkat(dfd, "c", 0), 0);
        close(dfd);
        assert_int_equal(rmdir(dir), 0);
}

static int fails(void *arg, void *out, char **err)
{
        *err = strdup("it went wrong");
        return -EBADMSG;
}

static void test_waiting_form(void **state)
{
        char *err = NULL;
        int dummy = 0;

        assert_int_equal(child_run_for(5000, fails, NULL, &dummy, sizeof(dummy), &err), -EBADMSG);
        assert_string_equal(err, "it went wrong");
        free(err);
        err = NULL;
        assert_int_equal(child_run_for(5000, crashes, NULL, &dummy, sizeof(dummy), &err), -ECHILD);
        assert_string_equal(err, "the worker process died (signal 6)");
        free(err);
        err = NULL;
        assert_int_equal(child_run_for(300, hangs, NULL, &dummy, sizeof(dummy), &err), -ETIMEDOUT);
        assert_string_equal(err, "the worker process did not finish within 0.3 s and was killed");
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_unprivileged_child, setup, teardown),
                cmocka_unit_test_setup_teardown(test_result_comes_back_through_the_loop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_crash_and_time_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel_kills_and_reaps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_in_a_child, setup, teardown),
                cmocka_unit_test(test_waiting_form),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
