/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Drawing the session figure with Cairo, onto any surface: CPU on top,
 * memory below, the per-thread panel under them when there is one, all on
 * one elapsed-time axis. Sizes (fonts, lines, margins) follow the surface
 * size; layout is returned so tests can find what was drawn where.
 */

#include <cairo.h>
#include <stdbool.h>

#include "plot-csv.h"
#include "plot-scale.h"
#include "plot-session.h"
#include "plot-threads.h"

typedef struct PlotFigure {
        const PlotCpuData *cpu;     /* at least one row */
        const PlotSession *session; /* NULL: none */
        const PlotThreads *threads; /* NULL: no thread panel */
        const char *title;
        const char *subtitle; /* NULL: none */
        const char *
                warning; /* a line under the subtitle, in red (a profile that covers too little); NULL: none */
        double x0, x1;   /* the time axis, from plot_time_range() */
        double gap;      /* a longer sampling interval is a gap; 0: none */
} PlotFigure;

typedef enum PlotPanelKind {
        PLOT_PANEL_CPU,
        PLOT_PANEL_MEMORY,
        PLOT_PANEL_THREADS,
        _PLOT_PANEL_MAX,
} PlotPanelKind;

typedef struct PlotPanel {
        double x, y, w, h; /* the plot area, in surface units */
        Ticks yticks;
        Scale ys; /* value -> y */
} PlotPanel;

typedef struct PlotLayout {
        double font; /* the base font size everything follows */
        TimeTicks xticks;
        Scale xs; /* elapsed seconds -> x */
        PlotPanel panel[_PLOT_PANEL_MAX];
        unsigned n_panels;
} PlotLayout;

/* The idle target the seed's README sets for PAM: under 5 % CPU. */
#define PLOT_IDLE_TARGET_PERCENT 5.0

/* The elapsed-time span to show: from 0 (or the first row) to the last row or event. */
void plot_time_range(const PlotCpuData *d, const PlotSession *s, double *ret_x0, double *ret_x1);

/* Whether row i starts a new line: a time jump beyond gap, or another pid. */
bool plot_row_breaks(const PlotCpuData *d, size_t i, double gap);

/* Draws f onto cr over width x height. 0, or -ENOMEM, or -EIO with a Cairo error. */
int plot_draw(cairo_t *cr, unsigned width, unsigned height, const PlotFigure *f, PlotLayout *ret_layout);
