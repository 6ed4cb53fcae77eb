/* SPDX-License-Identifier: MIT */
#include "render.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-config.h"
#include "cleanup.h"
#include "fs-util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int open_part(int dir_fd, const char *id, const char *suffix)
{
        char name[256];

        snprintf(name, sizeof(name), "%s_%s", id, suffix);
        return openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

typedef int (*RenderFunc)(int csv_fd, int session_fd, int threads_fd, int out_fd, const PlotOptions *o,
                          PlotStats *ret_stats, char **ret_error);

/*
 * The module next to a build tree's daemon (daemon/../common/), else where
 * the package installs it. An absolute path: dlopen()'s own search would use
 * the caller's RUNPATH, and under ASan the caller is the sanitizer runtime.
 */
static void *render_module_open(void)
{
        char exe[PATH_MAX], path[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        char *slash;
        void *h;

        if (n > 0) {
                exe[n] = '\0';
                slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0';
                        snprintf(path, sizeof(path), "%s/../common/pamprof-render.so", exe);
                        if (access(path, R_OK) == 0 && (h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
                                return h;
                }
        }
        return dlopen(PAMPROF_RENDER_MODULE, RTLD_NOW | RTLD_LOCAL);
}

/*
 * In the render child: Cairo, fontconfig and FreeType are loaded for the
 * length of one render.
 */
static int render_with_module(int csv, int session, int threads, int out, const PlotOptions *o,
                              PlotStats *ret_stats, char **ret_error)
{
        void *h = render_module_open();
        RenderFunc render;
        int r;

        if (!h) {
                if (ret_error)
                        *ret_error = strdup(dlerror());
                return -ELIBACC;
        }
        render = (RenderFunc) dlsym(h, "plot_render_fd");
        if (!render) {
                if (ret_error)
                        *ret_error = strdup("the render module has no plot_render_fd");
                dlclose(h);
                return -ELIBBAD;
        }
        r = render(csv, session, threads, out, o, ret_stats, ret_error);
        dlclose(h);
        return r;
}

typedef struct RenderReply {
        int r;
        PlotStats stats;
} RenderReply;

/*
 * The render runs in a short-lived child: Cairo, fontconfig and FreeType
 * never enter the daemon's address space (dlclose() does not give their
 * memory back, about 1.4 MB a render), and a crash in them costs the image,
 * not the daemon. The daemon waits for it: a day of 1 s rows renders in
 * about 0.1 s.
 */
static int render_in_child(int csv, int session, int threads, int out, const PlotOptions *o, PlotStats *ret_stats,
                           char **ret_error)
{
        RenderReply reply = { .r = -EIO };
        char text[1024];
        size_t len = 0;
        int p[2], status = 0;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                char *err = NULL;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(p[0]);
                reply.r = render_with_module(csv, session, threads, out, o, &reply.stats, &err);
                (void) write_all(p[1], &reply, sizeof(reply));
                if (err)
                        (void) write_all(p[1], err, strlen(err));
                _exit(0);
        }
        close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], len < sizeof(reply) ? (char *) &reply + len : text + len - sizeof(reply),
                                 len < sizeof(reply) ? sizeof(reply) - len : sizeof(text) - 1 - (len - sizeof(reply)));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (len >= sizeof(reply) + sizeof(text) - 1)
                        break;
        }
        close(p[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (len < sizeof(reply)) {
                if (ret_error && asprintf(ret_error, "the renderer died (%s %d)",
                                          WIFSIGNALED(status) ? "signal" : "status",
                                          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)) < 0)
                        *ret_error = NULL;
                return -ECHILD;
        }
        if (ret_stats)
                *ret_stats = reply.stats;
        if (len > sizeof(reply) && ret_error) {
                text[len - sizeof(reply)] = '\0';
                *ret_error = strdup(text);
        }
        return reply.r;
}

int render_session_plot(int dir_fd, const char *id, uid_t uid, gid_t gid, PlotStats *ret_stats, char **ret_error)
{
        _cleanup_close_ int csv = -1, session = -1, threads = -1, out = -1;
        char final[256], tmp[300], source[256];
        PlotOptions o = { .format = PLOT_FORMAT_PNG, .source_name = source };
        int r;

        snprintf(final, sizeof(final), "%s_cpu.png", id);
        snprintf(tmp, sizeof(tmp), ".%s.tmp", final);
        snprintf(source, sizeof(source), "%s_cpu.csv", id);
        csv = open_part(dir_fd, id, "cpu.csv");
        if (csv < 0)
                return -errno;
        session = open_part(dir_fd, id, "session.json");
        threads = open_part(dir_fd, id, "threads.csv");
        (void) unlinkat(dir_fd, tmp, 0);
        r = create_file_at(dir_fd, tmp, uid, gid, &out);
        if (r < 0)
                return r;
        r = render_in_child(csv, session, threads, out, &o, ret_stats, ret_error);
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r >= 0 && renameat2(dir_fd, tmp, dir_fd, final, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dir_fd, tmp, 0);
        return r;
}
