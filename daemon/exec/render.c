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
        int r = j->render(j->csv, j->session, j->threads, j->out, j->o, out, err);

        if (r >= 0 && fsync(j->out) < 0)
                r = -errno;
        return r;
}

struct Render {
        Child *child;
        int dir_fd;
        char final[256], tmp[300];
        RenderDoneFunc done;
        void *userdata;
};

Render *render_free(Render *r)
{
        if (!r)
                return NULL;
        if (r->child) {
                r->child = child_free(r->child);
                (void) unlinkat(r->dir_fd, r->tmp, 0);
        }
        if (r->dir_fd >= 0)
                close(r->dir_fd);
        free(r);
        return NULL;
}

static void render_done(Child *c, const ChildResult *res, void *userdata)
{
        Render *rd = userdata;
        PlotStats stats;
        int r = res->r;

        rd->child = child_free(rd->child);
        /* What the child says is its own: kept within its fields. */
        memcpy(&stats, res->out, sizeof(stats));
        stats.first_skip_reason[sizeof(stats.first_skip_reason) - 1] = '\0';
        stats.warning[sizeof(stats.warning) - 1] = '\0';
        if (r >= 0 && renameat2(rd->dir_fd, rd->tmp, rd->dir_fd, rd->final, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(rd->dir_fd, rd->tmp, 0);
        rd->done(r, &stats, res->error, rd->userdata);
}

/* A fresh name, never removing what is there: in a shared sticky directory it may be someone's. */
static int create_temp(Render *rd, uid_t uid, gid_t gid, int *ret_fd)
{
        int r;

        for (unsigned attempt = 0;; attempt++) {
                snprintf(rd->tmp, sizeof(rd->tmp), ".%s.%ld.%u.tmp", rd->final, (long) getpid(), attempt);
                r = create_file_at(rd->dir_fd, rd->tmp, uid, gid, ret_fd);
                if (r != -EEXIST || attempt >= 16)
                        return r;
        }
}

int render_plot_start(sd_event *e, int dir_fd, const char *id, uid_t uid, gid_t gid, double duration,
                      RenderDoneFunc done, void *userdata, Render **ret)
{
        _cleanup_close_ int csv = -1, session = -1, threads = -1, out = -1;
        char source[256];
        PlotOptions o = { .format = PLOT_FORMAT_PNG, .source_name = source, .duration = duration };
        RenderJob job;
        Render *rd;
        int r;

        csv = open_part(dir_fd, id, "cpu.csv");
        if (csv < 0)
                return -errno;
        session = open_part(dir_fd, id, "session.json");
        threads = open_part(dir_fd, id, "threads.csv");
        rd = calloc(1, sizeof(*rd));
        if (!rd)
                return -ENOMEM;
        rd->done = done;
        rd->userdata = userdata;
        rd->dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (rd->dir_fd < 0) {
                free(rd);
                return -errno;
        }
        snprintf(rd->final, sizeof(rd->final), "%s_cpu.png", id);
        snprintf(source, sizeof(source), "%s_cpu.csv", id);
        r = create_temp(rd, uid, gid, &out);
        if (r < 0) {
                render_free(rd);
                return r;
        }
        job = (RenderJob){ .csv = csv, .session = session, .threads = threads, .out = out, .o = &o };
        r = child_start(e,
                        &(ChildSpec){ .prepare = render_load,
                                      .work = render_work,
                                      .arg = &job,
                                      .out_size = sizeof(PlotStats),
                                      .unprivileged = true,
                                      .uid = uid,
                                      .gid = gid,
                                      .fds = (int[]){ csv, session, threads, out },
                                      .n_fds = 4 },
                        render_done, rd, &rd->child);
        if (r < 0) {
                (void) unlinkat(rd->dir_fd, rd->tmp, 0);
                render_free(rd);
                return r;
        }
        *ret = rd;
        return 0;
}
