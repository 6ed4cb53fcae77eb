/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * <id>_cpu.csv (+ _session.json, _threads.csv) -> <id>_cpu.png in dir_fd,
 * drawn with Cairo in a child (child.h): written to a fresh temp name
 * (O_EXCL, O_NOFOLLOW, owned by uid) and renamed into place without
 * replacing anything once the child is done. Used at stop and when an
 * interrupted session is recovered.
 */

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "plot.h"

typedef struct Render Render;

/* From the loop: r (-ENODATA: the CSV has no rows), the plot's figures, the child's sentence or NULL. */
typedef void (*RenderDoneFunc)(int r, const PlotStats *stats, const char *error, void *userdata);

/*
 * Starts the render and returns at once; done() follows from the loop. dir_fd is the
 * caller's (duplicated). A negative return (no CSV, no temp file, no child) means no done().
 */
int render_plot_start(sd_event *e, int dir_fd, const char *id, uid_t uid, gid_t gid, double duration,
                      RenderDoneFunc done, void *userdata, Render **ret);

/* Cancels one that still runs (its temp file goes); NULL. */
Render *render_free(Render *r);
