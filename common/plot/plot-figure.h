/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What plot-render.c (layout, panels, axes) and plot-legend.c (legends,
 * direct labels, event labels) share while drawing one figure. Internal to
 * the plot library.
 */

#include <stdbool.h>
#include <stddef.h>

#include "mem-trend.h"
#include "plot-draw.h"
#include "plot-render.h"

#define C_TEXT RGB_HEX(0x1f2937)
#define C_MUTED RGB_HEX(0x6b7280)
#define C_AXIS RGB_HEX(0x4b5563)
#define C_GRID RGB_HEX(0xe5e7eb)
#define C_GAP RGB_HEX(0x9ca3af)
#define C_CPU RGB_HEX(0x2563eb)
#define C_PROF RGB_HEX(0xd97706)
#define C_MEM RGB_HEX(0x0f766e)
#define C_TARGET RGB_HEX(0xdc2626)
#define C_OTHER RGB_HEX(0x9ca3af)
#define C_FIT RGB_HEX(0x374151)

static inline Rgb thread_color(size_t i)
{
        static const unsigned palette[] = { 0x2563eb, 0xdb2777, 0x16a34a, 0xd97706, 0x7c3aed, 0x0891b2 };

        return RGB_HEX(palette[i % (sizeof(palette) / sizeof(palette[0]))]);
}

#define MAX_LEGEND 10
#define MAX_NOTES 4

typedef struct LegendItem {
        char text[96];
        Rgb c;
        Dash dash;
        bool filled;
} LegendItem;

/* A direct label in the right margin, at the height of the line it names. */
typedef struct Note {
        double value;
        char text[48];
        Rgb c;
} Note;

typedef struct PanelSpec {
        char title[80];   /* over the panel, left */
        const char *axis; /* y axis title, with unit */
        const char *unit; /* after values in labels */
        LegendItem legend[MAX_LEGEND];
        size_t n_legend;
        unsigned legend_rows;
        double legend_w; /* the legend wraps at this width */
        Note notes[MAX_NOTES];
        size_t n_notes;
        double lo, hi; /* the value range to show */
        double weight; /* share of the height */
        double header; /* height above the plot area */
} PanelSpec;

typedef struct Stats {
        bool ok;
        double mean, max;
        size_t argmax;
} Stats;

typedef struct Ctx {
        cairo_t *cr;
        const PlotFigure *f;
        unsigned w, h;
        double fs, px, lw; /* base font; a hairline; a data line */
        Stats cpu, mem, prof;
        MemTrend trend; /* the report's verdict on memory, whose straight line the memory panel draws */
        PanelSpec spec[_PLOT_PANEL_MAX];
        PlotLayout L;
        double title_y, subtitle_y, warning_y, xlabel_y, xtitle_y, left_title_x;
} Ctx;

void figure_spec_cpu(Ctx *c);
void figure_spec_mem(Ctx *c);
void figure_spec_threads(Ctx *c);
/* Greedy rows within width: row_of[i] per item, row widths in row_w; returns the rows. */
unsigned figure_legend_assign(Ctx *c, const PanelSpec *p, double width, unsigned *row_of, double *row_w);
double figure_notes_width(Ctx *c);
Rgb figure_event_color(PlotEventKind k);
void figure_panel_header(Ctx *c, const PlotPanel *pp, const PanelSpec *p);
void figure_panel_notes(Ctx *c, const PlotPanel *pp, const PanelSpec *p);
void figure_event_labels(Ctx *c);
