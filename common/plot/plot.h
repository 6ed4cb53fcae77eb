/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The session figure, from file descriptors to an image: what the daemon
 * calls at stop and `pamprofctl plot` calls on any CSV of ours or the
 * seed's. The pieces: plot-csv (reading), plot-session, plot-threads,
 * plot-scale (tick, unit and decimation maths, no Cairo), and the Cairo
 * side: plot-render (layout, panels, axes), plot-legend (words) and
 * plot-draw (primitives).
 */

#include <stdbool.h>
#include <stddef.h>

typedef enum PlotFormat {
        PLOT_FORMAT_PNG,
        PLOT_FORMAT_SVG,
        PLOT_FORMAT_PDF,
} PlotFormat;

typedef struct PlotOptions {
        unsigned width, height; /* 0 = default 1600x900; each at most PLOT_SIZE_MAX */
        const char *title;      /* NULL = derived from the session and the CSV */
        PlotFormat format;
        const char *source_name; /* the CSV's file name, for messages and the derived
                                          * title when there is no session file; NULL ok */
        double duration;         /* the session's length when the caller knows it better
                                          * than the files (at stop, before the final record); 0 = no */
} PlotOptions;

typedef struct PlotStats {
        size_t rows, skipped; /* of the CPU CSV */
        unsigned long first_skipped_line;
        char first_skip_reason[96]; /* "cpu_percent is \"abc\"" */
        size_t thread_rows, thread_skipped;
        size_t events;
        char warning[256]; /* a companion file left out, and why; "" when none */
} PlotStats;

#define PLOT_DEFAULT_WIDTH 1600u
#define PLOT_DEFAULT_HEIGHT 900u
#define PLOT_SIZE_MIN 320u
#define PLOT_SIZE_MAX 10000u

/*
 * csv_fd required; session_fd, threads_fd may be -1 (threads_fd must be
 * seekable: it is read twice); writes the image to out_fd. Reads from each
 * fd's current offset and closes none of them.
 * 0; -ENODATA: no usable row; -EBADMSG: not a CSV of this kind; -EINVAL: bad
 * options; other -errno. A sentence for a person in *ret_error (malloc'd)
 * when non-NULL, on failure.
 */
int plot_render_fd(int csv_fd, int session_fd, int threads_fd, int out_fd, const PlotOptions *o,
                   PlotStats *ret_stats, char **ret_error);

/* ".png", ".svg", ".pdf" (any case) at the end of path; -EINVAL otherwise. */
int plot_format_from_path(const char *path, PlotFormat *ret);
