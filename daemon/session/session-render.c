/* SPDX-License-Identifier: MIT */
/* At stop: the session's _cpu.png; no rows, no image, and the reason is logged. */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "log.h"
#include "render.h"
#include "session-parts.h"

void session_render(Session *s)
{
        _cleanup_free_ char *error = NULL;
        PlotStats stats = { 0 };
        int r;

        if (!session_options(s)->monitor)
                return;
        /* The record on disk is the last event's: the plot gets the session's final length from here. */
        r = render_session_plot(session_dir_fd(s), session_id(s), session_file_uid(s), session_file_gid(s),
                                session_elapsed(s), &stats, &error);
        if (r == -ENODATA) {
                log_notice("%s: no plot: the CSV has no rows (PAM was not sampled for a whole interval)",
                           session_id(s));
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "%s: cannot render %s_cpu.png%s%s", session_id(s), session_id(s),
                                  error ? ": " : "", error ? error : "");
                return;
        }
        if (stats.skipped > 0)
                log_warning("%s: %zu malformed rows skipped in the plot", session_id(s), stats.skipped);
        if (stats.warning[0])
                log_warning("%s: plot: %s", session_id(s), stats.warning);
        session_set_file(s, "plot", "cpu.png");
}
