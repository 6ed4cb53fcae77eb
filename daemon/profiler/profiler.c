/* SPDX-License-Identifier: MIT */
#include "profiler.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
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

int strv_push(char ***v, size_t *n, const char *fmt, ...)
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

/* py-spy writes its file once, from memory, at the end: a run is judged by that file, not its exit. */
static void pyspy_judge(int fd, const ProfilerExit *e, ProfileJudgement *ret)
{
        ProfileCheck check = { 0 };

        *ret = (ProfileJudgement){ .verdict = PROFILE_FAILED };
        if (fd >= 0)
                profile_check_fd(fd, &check);
        else
                snprintf(check.reason, sizeof(check.reason), "py-spy wrote no file");
        ret->size = check.size;
        if (check.complete) {
                ret->verdict = PROFILE_OK;
                if (!e->stop_sent && e->target_alive)
                        snprintf(ret->reason, sizeof(ret->reason),
                                 "py-spy ended by itself (exit %d, a complete file) while pid %d was still "
                                 "running: %s",
                                 e->code, (int) e->target, e->last_line);
                else if (e->code != 0)
                        snprintf(ret->reason, sizeof(ret->reason),
                                 "with a non-zero exit but a complete file");
                return;
        }
        if (e->killed) {
                ret->verdict = PROFILE_LOST;
                snprintf(ret->reason, sizeof(ret->reason),
                         "py-spy did not write its file within %gs of SIGINT and was killed; that run's "
                         "profile is lost",
                         e->grace);
        } else if (e->signal == 0) {
                snprintf(ret->reason, sizeof(ret->reason), "%s; it exited with status %d: %s", check.reason,
                         e->code, e->last_line);
                /* py-spy's refusals of the target itself (src/main.rs): the next run gets the same. */
                ret->final = e->code == 1 &&
                        (strstr(e->last_line, "Permission Denied") ||
                         strstr(e->last_line, "Permission denied") ||
                         strstr(e->last_line, "Failed to find python version") ||
                         strstr(e->last_line, "Failed to open process"));
                /* A missing pid, or one with no memory left to read (a zombie): no target. */
                ret->no_target = e->code == 1 &&
                        (strstr(e->last_line, "No such file or directory") ||
                         strstr(e->last_line, "Failed to open process") ||
                         strstr(e->last_line, "Failed to find python version"));
        } else
                snprintf(ret->reason, sizeof(ret->reason), "%s; it was killed by signal %d: %s",
                         check.reason, e->signal, e->last_line);
}

const ProfilerBackend pyspy_backend = {
        .name = "py-spy",
        .display = "py-spy",
        .binary = "py-spy",
        .install_hint = "Install it into PAM's virtualenv (pip install py-spy) or set pyspy_path in "
                        "/etc/pamprofd/pamprofd.conf",
        .path_key = "pyspy_path",
        .stop_signal = SIGINT,
        .output_suffix = "speedscope.json",
        .output_noise = "py-spy> Visit",
        .build_argv = pyspy_argv,
        .judge = pyspy_judge,
};

const ProfilerBackend *const profiler_backends[] = { &pyspy_backend, &austin_backend, NULL };

const ProfilerBackend *profiler_backend_find(const char *name)
{
        for (size_t i = 0; profiler_backends[i]; i++)
                if (name && strcmp(profiler_backends[i]->name, name) == 0)
                        return profiler_backends[i];
        return NULL;
}

const char *profiler_backend_names(void)
{
        static char buf[128]; /* built once from a constant table */
        size_t n = 0;

        if (buf[0])
                return buf;
        for (size_t i = 0; profiler_backends[i] && n < sizeof(buf); i++) {
                const char *sep = i == 0 ? "" : profiler_backends[i + 1] ? ", " : " or ";
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s", sep, profiler_backends[i]->name);
        }
        return buf;
}

int profiler_check_choice(const char *name, const ProfilerRequest *q, char *why, size_t size)
{
        const ProfilerBackend *b = profiler_backend_find(name);
        const char *no;

        if (!b) {
                snprintf(why, size,
                         "There is no profiler called \"%s\": use %s (--profiler NAME, or the profiler key "
                         "in pamprofd.conf).",
                         name, profiler_backend_names());
                return -EINVAL;
        }
        no = b->check_options ? b->check_options(q) : NULL;
        if (no) {
                snprintf(why, size, "%s.", no);
                return -EINVAL;
        }
        return 0;
}

void profiler_staged_name(const char *id, size_t n, const char *suffix, char *buf, size_t size)
{
        snprintf(buf, size, "%s.%zu.%s", id, n, suffix);
}

static bool executable(const char *path)
{
        struct stat st;

        return path && path[0] == '/' && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* Root, or the daemon's own user: the only owners whose files it runs without being told to. */
static bool trusted_owner(uid_t uid)
{
        return uid == 0 || uid == geteuid();
}

/*
 * A profiler found by searching (PATH, PAM's virtualenv) is run with
 * CAP_SYS_PTRACE, so it must be one nobody else could have put there: the
 * file and every directory up to / owned by root or the daemon's user, and
 * none of them writable by others (a sticky directory like /tmp excepted, as
 * others cannot replace what is in it). *ret_why names the first doubt.
 */
static bool trusted_executable(const char *path, char *why, size_t size)
{
        char buf[PATH_MAX], *slash;
        struct stat st;

        if (!realpath(path, buf)) {
                snprintf(why, size, "%s cannot be resolved", path);
                return false;
        }
        for (bool file = true;; file = false) {
                if (stat(buf, &st) < 0) {
                        snprintf(why, size, "%s cannot be read", buf);
                        return false;
                }
                if (!trusted_owner(st.st_uid)) {
                        snprintf(why, size, "%s belongs to uid %u", buf, (unsigned) st.st_uid);
                        return false;
                }
                if ((st.st_mode & 0022) && (file || !(st.st_mode & S_ISVTX))) {
                        snprintf(why, size, "%s is writable by others", buf);
                        return false;
                }
                slash = strrchr(buf, '/');
                if (!slash || buf[1] == '\0')
                        return true;
                if (slash == buf)
                        slash[1] = '\0';
                else
                        *slash = '\0';
        }
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
        _cleanup_free_ char *copy =
                strdup(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin");
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

int profiler_find(const ProfilerBackend *b, const char *configured, int proc_fd, pid_t target,
                  char **ret_path, char **ret_looked)
{
        char *p;

        *ret_looked = NULL;
        if (configured && *configured) {
                if (executable(configured)) {
                        *ret_path = strdup(configured);
                        return *ret_path ? 0 : -ENOMEM;
                }
                if (asprintf(ret_looked, "the configured %s %s, which is not an executable file",
                             b->path_key, configured) < 0)
                        *ret_looked = NULL;
                return -ENOENT;
        }
        char why[PATH_MAX + 64] = "";

        p = on_path(b->binary);
        for (unsigned arg = 0; !p && target > 0 && arg < 2; arg++) {
                p = venv_candidate(proc_fd, target, arg, b->binary);
                if (p && !executable(p)) {
                        free(p);
                        p = NULL;
                }
        }
        if (p && !trusted_executable(p, why, sizeof(why))) {
                log_warning("Not running %s found by searching: %s; set %s to it to trust it", p, why,
                            b->path_key);
                free(p);
                p = NULL;
        }
        if (p) {
                *ret_path = p;
                return 0;
        }
        if (why[0]) {
                if (asprintf(ret_looked,
                             "PATH and the directory of PAM's interpreter; one was found there, but %s, "
                             "so it is not run unless %s names it",
                             why, b->path_key) < 0)
                        *ret_looked = NULL;
        } else if (asprintf(ret_looked, "PATH and the directory of PAM's interpreter") < 0)
                *ret_looked = NULL;
        return -ENOENT;
}

typedef struct VersionCache {
        char path[PATH_MAX];
        dev_t dev;
        ino_t ino;
        struct timespec mtime;
        int r; /* what it said is a version (0), or an error (-ENOEXEC, -EIO) */
        char version[256];
} VersionCache;

static VersionCache cache; /* configuration-like: one executable, read once */

/*
 * Runs `path --version` with a 3 s limit; the child is always reaped. 0 only
 * when it exited 0 with something to say; else -ENOEXEC (or -EIO: silent),
 * and buf holds what it said ("cannot execute PATH: Exec format error"),
 * which is an error, not a version.
 */
static int run_version(const char *path, char *buf, size_t size)
{
        char *argv[] = { (char *) path, (char *) "--version", NULL };
        SpawnOptions o = { .argv = argv, .death_signal = SIGKILL, .keep_caps = 0 };
        struct pollfd p;
        size_t len = 0;
        int fds[2], status = 0;
        bool eof = false, reaped = false;
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
        p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
        while (len < size - 1 && poll(&p, 1, 3000) > 0) {
                ssize_t n = read(fds[0], buf + len, size - 1 - len);
                if (n <= 0) {
                        eof = n == 0;
                        break;
                }
                len += (size_t) n;
        }
        close(fds[0]);
        /* Its output ended: give it a moment to exit by itself, so its status says how it went. */
        for (int i = 0; eof && !reaped && i < 100; i++) {
                reaped = waitpid(pid, &status, WNOHANG) == pid;
                if (!reaped)
                        usleep(10000);
        }
        if (!reaped) {
                kill(pid, SIGKILL);
                (void) waitpid(pid, &status, 0);
        }
        buf[len] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        if (len == 0)
                return -EIO;
        return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ENOEXEC;
}

static bool cache_holds(const char *path, const struct stat *st)
{
        return strcmp(cache.path, path) == 0 && cache.dev == st->st_dev && cache.ino == st->st_ino &&
                cache.mtime.tv_sec == st->st_mtim.tv_sec && cache.mtime.tv_nsec == st->st_mtim.tv_nsec;
}

int profiler_version(const char *path, char *buf, size_t size)
{
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (!cache_holds(path, &st))
                return -EAGAIN;
        snprintf(buf, size, "%s", cache.r == -EIO ? "it printed nothing" : cache.version);
        return cache.r;
}

typedef struct VersionOut {
        int r;
        char version[256];
} VersionOut;

struct VersionProbe {
        Child *child;
        char path[PATH_MAX];
        struct stat st; /* the executable as it was when asked */
        VersionDoneFunc done;
        void *userdata;
};

VersionProbe *version_probe_free(VersionProbe *v)
{
        if (!v)
                return NULL;
        child_free(v->child);
        free(v);
        return NULL;
}

static int version_work(void *arg, void *out, char **err)
{
        VersionOut *o = out;

        o->r = run_version(arg, o->version, sizeof(o->version));
        return 0;
}

static void on_version(Child *c, const ChildResult *res, void *userdata)
{
        VersionProbe *v = userdata;
        const VersionOut *o = res->out;

        v->child = child_free(v->child);
        snprintf(cache.path, sizeof(cache.path), "%s", v->path);
        cache.dev = v->st.st_dev;
        cache.ino = v->st.st_ino;
        cache.mtime = v->st.st_mtim;
        cache.r = res->r < 0 ? -ENOEXEC : o->r;
        snprintf(cache.version, sizeof(cache.version), "%s",
                 res->r < 0 ? "its version could not be asked (the child failed)" : o->version);
        v->done(v->userdata);
        version_probe_free(v);
}

int version_probe_start(sd_event *e, const char *path, VersionDoneFunc done, void *userdata,
                        VersionProbe **ret)
{
        VersionProbe *v = calloc(1, sizeof(*v));
        int r;

        if (!v)
                return -ENOMEM;
        if (stat(path, &v->st) < 0) {
                free(v);
                return -errno;
        }
        snprintf(v->path, sizeof(v->path), "%s", path);
        v->done = done;
        v->userdata = userdata;
        r = child_start(e,
                        &(ChildSpec){ .work = version_work, .arg = v->path, .out_size = sizeof(VersionOut) },
                        on_version, v, &v->child);
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        return 0;
}

void profile_check_fd(int fd, ProfileCheck *ret)
{
        char head[256], tail[64];
        struct stat st;
        ssize_t n, m;
        off_t off;

        *ret = (ProfileCheck){ 0 };
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
                snprintf(ret->reason, sizeof(ret->reason),
                         "the profile is cut short (%zu bytes, no closing brace)", ret->size);
                return;
        }
        ret->complete = true;
}
