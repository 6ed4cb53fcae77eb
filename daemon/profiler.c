/* SPDX-License-Identifier: MIT */
#include "profiler.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "proc-cmdline.h"
#include "proc-read.h"
#include "spawn.h"

void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static int strv_push(char ***v, size_t *n, const char *fmt, ...) _printf_(3, 4);
static int strv_push(char ***v, size_t *n, const char *fmt, ...)
{
        char **nv = realloc(*v, (*n + 2) * sizeof(char *));
        va_list ap;
        int r;

        if (!nv)
                return -ENOMEM;
        *v = nv;
        va_start(ap, fmt);
        r = vasprintf(&nv[*n], fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

static int pyspy_argv(const char *path, const ProfilerRequest *q, char ***ret)
{
        char **v = NULL;
        size_t n = 0;
        int r = 0;

        r |= strv_push(&v, &n, "%s", path);
        r |= strv_push(&v, &n, "record");
        r |= strv_push(&v, &n, "--pid");
        r |= strv_push(&v, &n, "%d", (int) q->pid);
        r |= strv_push(&v, &n, "--rate");
        r |= strv_push(&v, &n, "%u", q->rate);
        r |= strv_push(&v, &n, "--format");
        r |= strv_push(&v, &n, "speedscope");
        r |= strv_push(&v, &n, "--output");
        r |= strv_push(&v, &n, "%s", q->output);
        if (q->idle)
                r |= strv_push(&v, &n, "--idle");
        if (q->nonblocking)
                r |= strv_push(&v, &n, "--nonblocking");
        if (q->native)
                r |= strv_push(&v, &n, "--native");
        if (q->subprocesses)
                r |= strv_push(&v, &n, "--subprocesses");
        if (q->gil)
                r |= strv_push(&v, &n, "--gil");
        if (r < 0) {
                strv_free(v);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}

const ProfilerBackend pyspy_backend = {
        .name = "py-spy",
        .binary = "py-spy",
        .install_hint = "Install it into PAM's virtualenv (pip install py-spy) or set pyspy_path in "
                        "/etc/pamprofd/pamprofd.conf",
        .stop_signal = SIGINT,
        .build_argv = pyspy_argv,
};

static bool executable(const char *path)
{
        struct stat st;

        return path && path[0] == '/' && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static char *join(const char *dir, const char *name)
{
        char *p = NULL;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

static char *on_path(const char *binary)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin");
        char *save = NULL;

        if (!copy)
                return NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p = join(d, binary);
                if (executable(p))
                        return p;
                free(p);
        }
        return NULL;
}

/* The directory part of PAM's argv[0] or argv[1] (…/.venv/bin/python3, …/.venv/bin/uvicorn), made absolute. */
static char *venv_candidate(int proc_fd, pid_t pid, unsigned arg, const char *binary)
{
        char path[64], buf[4096], cwd[PATH_MAX];
        const char *a = buf, *slash;
        size_t len;
        ssize_t n;
        char *dir = NULL, *p;

        snprintf(path, sizeof(path), "%d/cmdline", (int) pid);
        if (proc_read_file(proc_fd, path, buf, sizeof(buf), &len) < 0)
                return NULL;
        for (unsigned i = 0; i < arg; i++) {
                a += strlen(a) + 1;
                if ((size_t) (a - buf) >= len)
                        return NULL;
        }
        slash = strrchr(a, '/');
        if (!slash)
                return NULL;
        /* argv[1] counts only as uvicorn's own script (…/.venv/bin/uvicorn), not any script PAM runs. */
        if (arg == 1 && strncmp(slash + 1, "uvicorn", 7) != 0)
                return NULL;
        if (a[0] == '/')
                dir = strndup(a, (size_t) (slash - a));
        else {
                snprintf(path, sizeof(path), "%d/cwd", (int) pid);
                n = readlinkat(proc_fd, path, cwd, sizeof(cwd) - 1);
                if (n <= 0)
                        return NULL;
                cwd[n] = '\0';
                if (asprintf(&dir, "%s/%.*s", cwd, (int) (slash - a), a) < 0)
                        dir = NULL;
        }
        if (!dir)
                return NULL;
        p = join(dir, binary);
        free(dir);
        return p;
}

int profiler_find(const ProfilerBackend *b, const char *configured, int proc_fd, pid_t target, char **ret_path,
                  char **ret_looked)
{
        char *p;

        *ret_looked = NULL;
        if (configured && *configured) {
                if (executable(configured)) {
                        *ret_path = strdup(configured);
                        return *ret_path ? 0 : -ENOMEM;
                }
                if (asprintf(ret_looked, "the configured pyspy_path %s, which is not an executable file",
                             configured) < 0)
                        *ret_looked = NULL;
                return -ENOENT;
        }
        p = on_path(b->binary);
        for (unsigned arg = 0; !p && target > 0 && arg < 2; arg++) {
                p = venv_candidate(proc_fd, target, arg, b->binary);
                if (p && !executable(p)) {
                        free(p);
                        p = NULL;
                }
        }
        if (p) {
                *ret_path = p;
                return 0;
        }
        if (asprintf(ret_looked, "PATH and the directory of PAM's interpreter") < 0)
                *ret_looked = NULL;
        return -ENOENT;
}

typedef struct VersionCache {
        char path[PATH_MAX];
        dev_t dev;
        ino_t ino;
        struct timespec mtime;
        char version[64];
} VersionCache;

/* Runs `path --version` with a 3 s limit; the child is always reaped. */
static int run_version(const char *path, char *buf, size_t size)
{
        char *argv[] = { (char *) path, (char *) "--version", NULL };
        SpawnOptions o = { .argv = argv, .death_signal = SIGKILL, .keep_caps = 0 };
        struct pollfd p;
        size_t len = 0;
        int fds[2], status = 0;
        pid_t pid;
        int r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        o.output_fd = fds[1];
        r = spawn_child(&o, &pid);
        close(fds[1]);
        if (r < 0) {
                close(fds[0]);
                return r;
        }
        p = (struct pollfd) { .fd = fds[0], .events = POLLIN };
        while (len < size - 1 && poll(&p, 1, 3000) > 0) {
                ssize_t n = read(fds[0], buf + len, size - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(fds[0]);
        kill(pid, SIGKILL);
        (void) waitpid(pid, &status, 0);
        buf[len] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        return len > 0 ? 0 : -EIO;
}

int profiler_version(const char *path, char *buf, size_t size)
{
        static VersionCache cache; /* configuration-like: one executable, read once */
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return -errno;
        if (strcmp(cache.path, path) == 0 && cache.dev == st.st_dev && cache.ino == st.st_ino &&
            cache.mtime.tv_sec == st.st_mtim.tv_sec && cache.mtime.tv_nsec == st.st_mtim.tv_nsec) {
                snprintf(buf, size, "%s", cache.version);
                return 0;
        }
        r = run_version(path, cache.version, sizeof(cache.version));
        if (r < 0)
                return r;
        snprintf(cache.path, sizeof(cache.path), "%s", path);
        cache.dev = st.st_dev;
        cache.ino = st.st_ino;
        cache.mtime = st.st_mtim;
        snprintf(buf, size, "%s", cache.version);
        return 0;
}

void profile_check_fd(int fd, ProfileCheck *ret)
{
        char head[256], tail[64];
        struct stat st;
        ssize_t n, m;
        off_t off;

        *ret = (ProfileCheck) {};
        if (fstat(fd, &st) < 0 || st.st_size == 0) {
                snprintf(ret->reason, sizeof(ret->reason), "the profile is empty");
                return;
        }
        ret->size = (size_t) st.st_size;
        n = pread(fd, head, sizeof(head) - 1, 0);
        off = st.st_size > (off_t) sizeof(tail) ? st.st_size - (off_t) sizeof(tail) : 0;
        m = pread(fd, tail, sizeof(tail), off);
        if (n <= 0 || m <= 0) {
                snprintf(ret->reason, sizeof(ret->reason), "the profile cannot be read");
                return;
        }
        head[n] = '\0';
        while (m > 0 && (tail[m - 1] == '\n' || tail[m - 1] == ' ' || tail[m - 1] == '\r'))
                m--;
        if (head[strspn(head, " \n")] != '{' || !strstr(head, "speedscope")) {
                snprintf(ret->reason, sizeof(ret->reason), "the profile is not a speedscope document");
                return;
        }
        if (m == 0 || tail[m - 1] != '}') {
                snprintf(ret->reason, sizeof(ret->reason), "the profile is cut short (%zu bytes, no closing brace)",
                         ret->size);
                return;
        }
        ret->complete = true;
}
