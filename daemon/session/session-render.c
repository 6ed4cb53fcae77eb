/* SPDX-License-Identifier: MIT */
/* At stop: the session's _cpu.png, drawn in a child; no rows, no image, and the reason is logged
 * (and put in the record when the drawing failed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "render.h"
#include "session-parts.h"

static void render_outcome(Session *s, int r, const PlotStats *stats, const char *error)
{
        if (r == -ENODATA) {
                log_notice("%s: no plot: the CSV has no rows (PAM was not sampled for a whole interval)",
                           session_id(s));
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "%s: cannot render %s_cpu.png%s%s", session_id(s), session_id(s),
                                  error ? ": " : "", error ? error : "");
                /* in the record too: `show` says why there is no plot (a full disk, a bad row) */
                session_event(s, "plot-failed", 0, "no plot: %s", error ? error : strerror(-r));
                return;
        }
        if (stats->skipped > 0)
                log_warning("%s: %zu malformed rows skipped in the plot", session_id(s), stats->skipped);
        if (stats->warning[0])
                log_warning("%s: plot: %s", session_id(s), stats->warning);
        session_set_file(s, "plot", "cpu.png");
}

static void on_rendered(int r, const PlotStats *stats, const char *error, void *userdata)
{
        Session *s = userdata;

        render_outcome(s, r, stats, error);
        session_rendered(s);
}

Render *session_render(Session *s)
{
        PlotStats none = { 0 };
        Render *render = NULL;
        int r;

        if (!session_options(s)->monitor)
                return NULL;
        /* The record on disk is the last event's: the plot gets the session's final length from here. */
        r = render_plot_start(session_event_loop(s), session_dir_fd(s), session_id(s), session_file_uid(s),
                              session_file_gid(s), session_elapsed(s), on_rendered, s, &render);
        if (r < 0) {
                render_outcome(s, r, &none, NULL);
                return NULL;
        }
        return render;
}
