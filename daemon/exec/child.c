/* SPDX-License-Identifier: MIT */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-util.h"

#define CHILD_REPLY_MAX 4096
/* A render or report that has not finished by then is killed: the event loop must not wait for ever. */
#define CHILD_TIMEOUT_MS (120 * 1000)

/* The unprivileged user of last resort (the kernel's overflow uid; nobody:nogroup on Debian). */
#define NOBODY 65534

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

static int run(int timeout_ms, const uid_t *as_uid, gid_t as_gid, ChildWork prepare, ChildWork fn, void *arg,
               void *out, size_t out_size, char **ret_error);

int child_run(ChildWork fn, void *arg, void *out, size_t out_size, char **ret_error)
{
        return run(CHILD_TIMEOUT_MS, NULL, 0, NULL, fn, arg, out, out_size, ret_error);
}

int child_run_for(int timeout_ms, ChildWork fn, void *arg, void *out, size_t out_size, char **ret_error)
{
        return run(timeout_ms, NULL, 0, NULL, fn, arg, out, out_size, ret_error);
}

int child_run_unprivileged(uid_t uid, gid_t gid, ChildWork fn, void *arg, void *out, size_t out_size,
                           char **ret_error)
{
        return run(CHILD_TIMEOUT_MS, &uid, gid, NULL, fn, arg, out, out_size, ret_error);
}

int child_run_unprivileged_after(uid_t uid, gid_t gid, ChildWork prepare, ChildWork fn, void *arg, void *out,
                                 size_t out_size, char **ret_error)
{
        return run(CHILD_TIMEOUT_MS, &uid, gid, prepare, fn, arg, out, out_size, ret_error);
}

static int run(int timeout_ms, const uid_t *as_uid, gid_t as_gid, ChildWork prepare, ChildWork fn, void *arg,
               void *out, size_t out_size, char **ret_error)
{
        char *buf = malloc(sizeof(int) + out_size + CHILD_REPLY_MAX);
        size_t len = 0, head = sizeof(int) + out_size;
        int p[2], status = 0, r;
        bool timed_out = false;
        pid_t pid;

        if (!buf)
                return -ENOMEM;
        if (pipe2(p, O_CLOEXEC) < 0) {
                free(buf);
                return -errno;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(p[0]);
                close(p[1]);
                free(buf);
                return r;
        }
        if (pid == 0) {
                char *err = NULL;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(p[0]);
                r = prepare ? prepare(arg, out, &err) : 0;
                if (r >= 0 && as_uid) {
                        r = drop_privileges(*as_uid, as_gid);
                        if (r < 0 && asprintf(&err, "cannot drop privileges: %s", strerror(-r)) < 0)
                                err = NULL;
                }
                if (r >= 0)
                        r = fn(arg, out, &err);
                memcpy(buf, &r, sizeof(int));
                memcpy(buf + sizeof(int), out, out_size);
                (void) write_all(p[1], buf, head);
                if (err)
                        (void) write_all(p[1], err, strnlen(err, CHILD_REPLY_MAX - 1));
                _exit(0);
        }
        close(p[1]);
        for (;;) {
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                ssize_t n;

                r = poll(&pfd, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        kill(pid, SIGKILL);
                        timed_out = r == 0;
                        break;
                }
                n = read(p[0], buf + len, head + CHILD_REPLY_MAX - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || (len += (size_t) n) >= head + CHILD_REPLY_MAX - 1)
                        break;
        }
        close(p[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (len < head) {
                int k = 0;

                if (ret_error && timed_out)
                        k = asprintf(ret_error,
                                     "the worker process did not finish within %g s and was killed",
                                     timeout_ms / 1000.0);
                else if (ret_error)
                        k = asprintf(ret_error, "the worker process died (%s %d)",
                                     WIFSIGNALED(status) ? "signal" : "status",
                                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                if (k < 0)
                        *ret_error = NULL;
                free(buf);
                return timed_out ? -ETIMEDOUT : -ECHILD;
        }
        memcpy(&r, buf, sizeof(int));
        memcpy(out, buf + sizeof(int), out_size);
        if (len > head && ret_error) {
                buf[len] = '\0';
                *ret_error = strdup(buf + head);
        }
        free(buf);
        return r;
}
