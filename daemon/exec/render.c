/* SPDX-License-Identifier: MIT */
#include "render.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "child.h"
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
 * Where the package installs the module; $PAMPROF_RENDER_MODULE names another
 * (the tests and the demo point it into the build tree). An absolute path:
 * dlopen()'s own search would use the caller's RUNPATH, and under ASan the
 * caller is the sanitizer runtime.
 */
static const char *render_module_path(void)
{
        const char *p = getenv("PAMPROF_RENDER_MODULE");

        return p && p[0] == '/' ? p : PAMPROF_RENDER_MODULE;
}

typedef struct RenderJob {
        int csv, session, threads, out;
        const PlotOptions *o;
        void *module;
        RenderFunc render;
} RenderJob;

/*
 * In the render child, before it drops its privileges: the module is the
 * package's code, loaded with the daemon's rights (the build tree of a test
 * run may be closed to nobody); Cairo, fontconfig and FreeType come with it.
 */
static int render_load(void *arg, void *out, char **err)
{
        RenderJob *j = arg;
        const char *path = render_module_path();

        j->module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!j->module) {
                *err = strdup(dlerror());
                return -ELIBACC;
        }
        /* POSIX guarantees a dlsym() result converts to a function pointer; ISO C does not say so. */
        *(void **) &j->render = dlsym(j->module, "plot_render_fd");
        if (!j->render) {
                if (asprintf(err, "the render module %s has no plot_render_fd", path) < 0)
                        *err = NULL;
                return -ELIBBAD;
        }
        return 0;
}

/*
 * In a short-lived child (child.c): Cairo, fontconfig and FreeType never
 * enter the daemon's address space (dlclose() does not give their memory
 * back, about 1.4 MB a render), and a crash in them costs the image only.
 * The child reads and writes only the descriptors it is given, with no
 * capabilities and, when the daemon is root, as the files' owner.
 */
static int render_work(void *arg, void *out, char **err)
{
        RenderJob *j = arg;

        return j->render(j->csv, j->session, j->threads, j->out, j->o, out, err);
}

static int render_in_child(int csv, int session, int threads, int out, const PlotOptions *o, uid_t uid,
                           gid_t gid, PlotStats *ret_stats, char **ret_error)
{
        RenderJob job = { .csv = csv, .session = session, .threads = threads, .out = out, .o = o };
        PlotStats stats = { 0 };
        int r = child_run_unprivileged_after(uid, gid, render_load, render_work, &job, &stats, sizeof(stats),
                                             ret_error);

        if (ret_stats)
                *ret_stats = stats;
        return r;
}

int render_session_plot(int dir_fd, const char *id, uid_t uid, gid_t gid, double duration,
                        PlotStats *ret_stats, char **ret_error)
{
        _cleanup_close_ int csv = -1, session = -1, threads = -1, out = -1;
        char final[256], tmp[300], source[256];
        PlotOptions o = { .format = PLOT_FORMAT_PNG, .source_name = source, .duration = duration };
        int r;

        snprintf(final, sizeof(final), "%s_cpu.png", id);
        snprintf(source, sizeof(source), "%s_cpu.csv", id);
        csv = open_part(dir_fd, id, "cpu.csv");
        if (csv < 0)
                return -errno;
        session = open_part(dir_fd, id, "session.json");
        threads = open_part(dir_fd, id, "threads.csv");
        /* A fresh name, never removing what is there: in a shared sticky directory it may be someone's. */
        for (unsigned attempt = 0;; attempt++) {
                snprintf(tmp, sizeof(tmp), ".%s.%ld.%u.tmp", final, (long) getpid(), attempt);
                r = create_file_at(dir_fd, tmp, uid, gid, &out);
                if (r != -EEXIST || attempt >= 16)
                        break;
        }
        if (r < 0)
                return r;
        r = render_in_child(csv, session, threads, out, &o, uid, gid, ret_stats, ret_error);
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r >= 0 && renameat2(dir_fd, tmp, dir_fd, final, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dir_fd, tmp, 0);
        return r;
}
