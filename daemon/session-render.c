/* SPDX-License-Identifier: MIT */
/*
 * At stop: _cpu.csv -> _cpu.png, drawn by the daemon with Cairo. The image
 * is written to a fresh temp name in the output directory (O_EXCL,
 * O_NOFOLLOW, owned by the client) and renamed into place without replacing
 * anything. No rows, no image, and the reason is logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "plot.h"
#include "session-parts.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int open_sibling(Session *s, const char *key)
{
        _cleanup_(cJSON_Deletep) cJSON *files = session_files_json(s);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(files, key);

        if (!cJSON_IsString(name))
                return -ENOENT;
        return openat(session_dir_fd(s), name->valuestring, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

static int render_png(Session *s, const char *final, PlotStats *stats, char **error)
{
        _cleanup_close_ int csv = -1, session = -1, threads = -1, out = -1;
        _cleanup_free_ char *tmp = NULL;
        PlotOptions o = { .format = PLOT_FORMAT_PNG };
        int r;

        csv = open_sibling(s, "cpu_csv");
        if (csv < 0)
                return -errno;
        session = open_sibling(s, "session");
        threads = open_sibling(s, "threads_csv");
        if (asprintf(&tmp, ".%s.tmp", final) < 0)
                return -ENOMEM;
        (void) unlinkat(session_dir_fd(s), tmp, 0);
        r = create_file_at(session_dir_fd(s), tmp, session_file_uid(s), session_file_gid(s), &out);
        if (r < 0)
                return r;
        r = plot_render_fd(csv, session, threads, out, &o, stats, error);
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r >= 0 && renameat2(session_dir_fd(s), tmp, session_dir_fd(s), final, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(session_dir_fd(s), tmp, 0);
        return r;
}

void session_render(Session *s)
{
        _cleanup_free_ char *error = NULL, *final = NULL;
        PlotStats stats = {};
        int r;

        if (!session_options(s)->monitor)
                return;
        if (asprintf(&final, "%s_cpu.png", session_id(s)) < 0)
                return;
        r = render_png(s, final, &stats, &error);
        if (r == -ENODATA) {
                log_notice("%s: no plot: the CSV has no rows (PAM was not sampled long enough)", session_id(s));
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "%s: cannot render %s%s%s", session_id(s), final, error ? ": " : "",
                                  error ? error : "");
                return;
        }
        if (stats.skipped > 0)
                log_warning("%s: %zu malformed rows skipped in the plot", session_id(s), stats.skipped);
        session_set_file(s, "plot", "cpu.png");
}
