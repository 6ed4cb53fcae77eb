/* SPDX-License-Identifier: MIT */
#include "child.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs-util.h"

/* Where the work's out bytes start in the reply: aligned for any type a ChildSpec's out may be
 * (a struct of doubles and pointers), not just after the int that precedes them. */
#define CHILD_OUT ((size_t) _Alignof(max_align_t))

/* The error sentence a child may send after its result. */
#define CHILD_REPLY_MAX 4096

/* Below the daemon and PAM (0), above nothing that matters: a merge still ends on a busy Pi. */
#define CHILD_NICE 10

/* The unprivileged user of last resort (the kernel's overflow uid; nobody:nogroup on Debian). */
#define NOBODY 65534

struct Child {
        sd_event_source *exit_source, *pipe_source, *timer;
        pid_t pid;
        int fd;           /* the pipe's read end, non-blocking */
        char *buf;        /* { int r; padding; out_size bytes at CHILD_OUT } then the error text */
        size_t head, len; /* CHILD_OUT + out_size; bytes read */
        usec_t timeout;
        bool timed_out, exited;
        ChildDoneFunc done;
        void *userdata;
};

/*
 * For work that needs nothing but the descriptors it was handed: no
 * capabilities (the unit gives the daemon four, ambient), no way to gain
 * any, and not root: as root the child becomes uid:gid, nobody when that is
 * root too ((uid_t) -1 is the daemon's own). Plain syscalls.
 */
static int drop_privileges(uid_t uid, gid_t gid)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { 0 };

        if (uid == (uid_t) -1) { /* "the daemon's": setres*id() would read -1 as "unchanged" */
                uid = geteuid();
                gid = getegid();
        }
        if (geteuid() == 0) {
                if (uid == 0) {
                        uid = NOBODY;
                        gid = NOBODY;
                }
                if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                        return -errno;
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

static int int_cmp(const void *a, const void *b)
{
        int x = *(const int *) a, y = *(const int *) b;

        return (x > y) - (x < y);
}

/* Every descriptor above 2 but the pipe and the given ones: the daemon's socket, its directories, ... */
static int close_others(int pipe_fd, const int *fds, size_t n)
{
        int *keep = malloc((n + 1) * sizeof(int));
        unsigned from = 3;
        int r = 0;

        if (!keep)
                return -ENOMEM;
        if (n > 0)
                memcpy(keep, fds, n * sizeof(int));
        keep[n++] = pipe_fd;
        qsort(keep, n, sizeof(int), int_cmp);
        for (size_t i = 0; i < n; i++) {
                if (keep[i] < 0 || (unsigned) keep[i] < from)
                        continue; /* 0-2, or said twice */
                if ((unsigned) keep[i] > from &&
                    syscall(SYS_close_range, from, (unsigned) keep[i] - 1, 0) < 0) {
                        r = -errno;
                        break;
                }
                from = (unsigned) keep[i] + 1;
        }
        free(keep);
        if (r == 0 && syscall(SYS_close_range, from, ~0U, 0) < 0)
                r = -errno;
        return r;
}

/* In the child: prepare, close, drop, work; the result into the pipe. Never returns. */
_Noreturn static void child_main(const ChildSpec *spec, int fd)
{
        size_t head = CHILD_OUT + spec->out_size;
        char *buf = calloc(1, head);
        char *err = NULL;
        int r;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Background work: the daemon's loop and PAM get a core before it does. */
        (void) setpriority(PRIO_PROCESS, 0, CHILD_NICE);
        if (!buf)
                _exit(1);
        r = spec->prepare ? spec->prepare(spec->arg, buf + CHILD_OUT, &err) : 0;
        if (r >= 0) {
                r = close_others(fd, spec->fds, spec->n_fds);
                if (r < 0 && asprintf(&err, "cannot close the daemon's descriptors: %s", strerror(-r)) < 0)
                        err = NULL;
        }
        if (r >= 0 && spec->unprivileged) {
                r = drop_privileges(spec->uid, spec->gid);
                if (r < 0 && asprintf(&err, "cannot drop privileges: %s", strerror(-r)) < 0)
                        err = NULL;
        }
        if (r >= 0)
                r = spec->work(spec->arg, buf + CHILD_OUT, &err);
        memcpy(buf, &r, sizeof(int));
        (void) write_all(fd, buf, head);
        if (err)
                (void) write_all(fd, err, strnlen(err, CHILD_REPLY_MAX - 1));
        _exit(0);
}

/* Forks; in the parent, the pipe's read end (non-blocking when asked). */
static int child_fork(const ChildSpec *spec, bool nonblock, pid_t *ret_pid, int *ret_fd)
{
        int p[2], r;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[0]);
                child_main(spec, p[1]);
        }
        close(p[1]);
        if (nonblock && fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                close(p[0]);
                return r;
        }
        *ret_pid = pid;
        *ret_fd = p[0];
        return 0;
}

/* What came through the pipe, or why nothing did, as the result; *ret_error is malloc'd or NULL. */
static int child_outcome(const char *buf, size_t len, size_t head, bool timed_out, usec_t timeout,
                         const siginfo_t *si, char **ret_error)
{
        bool signalled = si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED;
        int r;

        *ret_error = NULL;
        if (len < head) {
                if (timed_out &&
                    asprintf(ret_error, "the worker process did not finish within %g s and was killed",
                             (double) timeout / 1e6) < 0)
                        *ret_error = NULL;
                else if (!timed_out &&
                         asprintf(ret_error, "the worker process died (%s %d)",
                                  signalled ? "signal" : "status", si->si_status) < 0)
                        *ret_error = NULL;
                return timed_out ? -ETIMEDOUT : -ECHILD;
        }
        memcpy(&r, buf, sizeof(int));
        if (len > head)
                *ret_error = strndup(buf + head, len - head);
        return r;
}

/* Reads what the pipe has; 1 at its end (or when the buffer is full), 0 for more to come. */
static int child_read(Child *c)
{
        for (;;) {
                size_t room = c->head + CHILD_REPLY_MAX - 1 - c->len;
                ssize_t n;

                if (room == 0)
                        return 1;
                n = read(c->fd, c->buf + c->len, room);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0)
                        return 1;
                c->len += (size_t) n;
        }
}

static void child_release(Child *c)
{
        c->exit_source = sd_event_source_disable_unref(c->exit_source);
        c->pipe_source = sd_event_source_disable_unref(c->pipe_source);
        c->timer = sd_event_source_disable_unref(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
}

static int on_pipe(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Child *c = userdata;

        /* At its end the source goes quiet; the exit source finishes the work. */
        if (child_read(c) > 0)
                c->pipe_source = sd_event_source_disable_unref(c->pipe_source);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Child *c = userdata;

        c->timed_out = true;
        (void) kill(c->pid, SIGKILL);
        return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        Child *c = userdata;
        char *error = NULL, *buf;
        ChildResult res;

        /* It has exited: what it wrote is all in the pipe. */
        if (c->pipe_source)
                (void) child_read(c);
        c->exited = true;
        res.r = child_outcome(c->buf, c->len, c->head, c->timed_out, c->timeout, si, &error);
        if (c->len < c->head)
                memset(c->buf, 0, c->head);
        /* The result is done()'s for as long as it runs, even when it frees c. */
        buf = TAKE_PTR(c->buf);
        res.out = buf + CHILD_OUT;
        res.error = error;
        res.timed_out = c->timed_out && c->len < c->head;
        child_release(c); /* sd-event reaps it once this returns */
        c->done(c, &res, c->userdata);
        free(error);
        free(buf);
        return 0;
}

int child_start(sd_event *e, const ChildSpec *spec, ChildDoneFunc done, void *userdata, Child **ret)
{
        Child *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        c->fd = -1;
        c->head = CHILD_OUT + spec->out_size;
        c->timeout = spec->timeout ? spec->timeout : CHILD_TIMEOUT_DEFAULT;
        c->done = done;
        c->userdata = userdata;
        c->buf = malloc(c->head + CHILD_REPLY_MAX);
        if (!c->buf) {
                free(c);
                return -ENOMEM;
        }
        r = child_fork(spec, true, &c->pid, &c->fd);
        if (r >= 0)
                r = sd_event_add_child(e, &c->exit_source, c->pid, WEXITED, on_child_exit, c);
        if (r >= 0)
                r = sd_event_add_io(e, &c->pipe_source, c->fd, EPOLLIN, on_pipe, c);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &c->timer, CLOCK_MONOTONIC, c->timeout, USEC_PER_MSEC * 10,
                                               on_timeout, c);
        if (r < 0) {
                child_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Child *child_free(Child *c)
{
        if (!c)
                return NULL;
        if (c->pid > 0 && !c->exited) {
                (void) kill(c->pid, SIGKILL);
                /* Gone from the loop first: sd-event must not find it later. Reaped here, at once. */
                c->exit_source = sd_event_source_disable_unref(c->exit_source);
                while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        child_release(c);
        free(c->buf);
        free(c);
        return NULL;
}

pid_t child_pid(const Child *c)
{
        return c ? c->pid : 0;
}

typedef struct RemoveJob {
        const RemoveSet *sets;
        size_t n;
} RemoveJob;

static int remove_work(void *arg, void *out, char **err)
{
        const RemoveJob *j = arg;
        RemoveCounts *counts = out;
        int removed = 0;

        for (size_t s = 0; s < j->n; s++) {
                unsigned here = 0;

                for (size_t i = 0; i < j->sets[s].n; i++)
                        if (unlinkat(j->sets[s].dir_fd, j->sets[s].names[i], 0) == 0)
                                here++;
                /* The journal's commit of all that here, not in the daemon's next fsync of a record. */
                if (here > 0)
                        (void) fsync(j->sets[s].dir_fd);
                if (counts)
                        counts->removed[s] = here;
                removed += (int) here;
        }
        return removed;
}

int child_remove_sets_start(sd_event *e, const RemoveSet *sets, size_t n, ChildDoneFunc done, void *userdata,
                            Child **ret)
{
        RemoveJob job = { .sets = sets, .n = n };
        int fds[REMOVE_SETS_MAX];

        if (n > REMOVE_SETS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                fds[i] = sets[i].dir_fd;
        return child_start(e,
                           &(ChildSpec){ .work = remove_work,
                                         .arg = &job,
                                         .fds = fds,
                                         .n_fds = n,
                                         .out_size = sizeof(RemoveCounts) },
                           done, userdata, ret);
}

int child_remove_start(sd_event *e, int dir_fd, const char *const *names, size_t n, ChildDoneFunc done,
                       void *userdata, Child **ret)
{
        return child_remove_sets_start(e, &(RemoveSet){ .dir_fd = dir_fd, .names = names, .n = n }, 1, done,
                                       userdata, ret);
}

/* The waiting form: a blocking poll() with the time limit, then waitpid(). */
int child_run_for(int timeout_ms, ChildWork fn, void *arg, void *out, size_t out_size, char **ret_error)
{
        ChildSpec spec = { .work = fn, .arg = arg, .out_size = out_size };
        size_t head = CHILD_OUT + out_size, len = 0;
        char *buf = malloc(head + CHILD_REPLY_MAX), *error = NULL;
        siginfo_t si = { 0 };
        bool timed_out = false;
        pid_t pid;
        int fd, r;

        if (!buf)
                return -ENOMEM;
        r = child_fork(&spec, false, &pid, &fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        while (len < head + CHILD_REPLY_MAX - 1) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                ssize_t n;

                r = poll(&pfd, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        kill(pid, SIGKILL);
                        timed_out = r == 0;
                        break;
                }
                n = read(fd, buf + len, head + CHILD_REPLY_MAX - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0 && errno == EINTR)
                ;
        r = child_outcome(buf, len, head, timed_out, (usec_t) timeout_ms * USEC_PER_MSEC, &si, &error);
        if (len >= head)
                memcpy(out, buf + CHILD_OUT, out_size);
        if (ret_error)
                *ret_error = error;
        else
                free(error);
        free(buf);
        return r;
}
