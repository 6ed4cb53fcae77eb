/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Cairo primitives of the plot: colours, text, pixel-snapped rules, lines
 * through decimated points, legend swatches. plot-render.c composes them.
 */

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

#include "plot-scale.h"

typedef struct Rgb {
        double r, g, b;
} Rgb;

#define RGB_HEX(h) ((Rgb){ ((h) >> 16 & 0xff) / 255.0, ((h) >> 8 & 0xff) / 255.0, ((h) &0xff) / 255.0 })

#define PLOT_FONT "DejaVu Sans"

typedef enum Dash {
        DASH_SOLID,
        DASH_DASHED,
        DASH_DOTTED,
} Dash;

void draw_set_color(cairo_t *cr, Rgb c, double alpha);
void draw_set_dash(cairo_t *cr, Dash d, double unit);

/* A 1-px-style rule lands on pixel centres when its width is odd. */
double draw_snap(double v, double line_width);
void draw_hline(cairo_t *cr, double x0, double x1, double y, double lw);
void draw_vline(cairo_t *cr, double x, double y0, double y1, double lw);

void draw_font(cairo_t *cr, double size, bool bold);
double draw_text_width(cairo_t *cr, const char *s);
/*
 * Text with its anchor at (x, y): ax 0 left, 0.5 centre, 1 right; ay 0 the
 * top of capitals, 0.5 their middle, 1 the baseline. Returns the width.
 */
double draw_text(cairo_t *cr, double x, double y, double ax, double ay, const char *s);
/* The same, with a rounded white plate behind it so it reads over grid and data. */
void draw_text_plate(cairo_t *cr, double x, double y, double ax, double ay, const char *s, double pad);

/*
 * A line through points (NANs break it), mapped by xs and ys; a run of one
 * point is drawn as a dot of radius dot. With fill_to, the area down to that
 * y is filled with alpha fill_alpha first.
 */
void draw_series(cairo_t *cr, const PlotPoint *p, size_t n, const Scale *xs, const Scale *ys, double dot);
void draw_series_fill(cairo_t *cr, const PlotPoint *p, size_t n, const Scale *xs, const Scale *ys,
                      double base);

/* A legend swatch: a short line (dash), or a filled square when filled. */
void draw_swatch(cairo_t *cr, double x, double y, double len, Rgb c, double lw, Dash dash, bool filled);

/* Numbers for people: "1234", "183.4", "40.2", "4.96". */
void format_value(double v, char *buf, size_t size);
/* Elapsed seconds as a clock: "12.5 s", "4:05", "1:02:03". */
void format_clock(double s, char *buf, size_t size);
/* A span for a title: "45 s", "4 min 05 s", "1 h 02 min". */
void format_span(double s, char *buf, size_t size);
