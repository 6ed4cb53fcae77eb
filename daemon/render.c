/* SPDX-License-Identifier: MIT */
#include "render.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#define RENDER_MODULE "pamprof-render.so"

/*
 * Cairo, fontconfig and FreeType are loaded for the length of one render:
 * an idle daemon keeps none of them in memory.
 */
static int render_with_module(int csv, int session, int threads, int out, const PlotOptions *o,
                              PlotStats *ret_stats, char **ret_error)
{
        void *h = dlopen(RENDER_MODULE, RTLD_NOW | RTLD_LOCAL);
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
        r = render_with_module(csv, session, threads, out, &o, ret_stats, ret_error);
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r >= 0 && renameat2(dir_fd, tmp, dir_fd, final, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dir_fd, tmp, 0);
        return r;
}
