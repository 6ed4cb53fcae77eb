/* SPDX-License-Identifier: MIT */
#include "plot-draw.h"

#include <math.h>
#include <stdio.h>

void draw_set_color(cairo_t *cr, Rgb c, double alpha)
{
        if (alpha >= 1.0)
                cairo_set_source_rgb(cr, c.r, c.g, c.b);
        else
                cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

void draw_set_dash(cairo_t *cr, Dash d, double unit)
{
        double dashed[] = { 4 * unit, 3 * unit };
        double dotted[] = { 1 * unit, 2 * unit };

        switch (d) {
        case DASH_DASHED:
                cairo_set_dash(cr, dashed, 2, 0);
                break;
        case DASH_DOTTED:
                cairo_set_dash(cr, dotted, 2, 0);
                break;
        default:
                cairo_set_dash(cr, NULL, 0, 0);
        }
}

double draw_snap(double v, double line_width)
{
        long w = lround(line_width);

        if (w % 2 == 1)
                return floor(v) + 0.5;
        return round(v);
}

void draw_hline(cairo_t *cr, double x0, double x1, double y, double lw)
{
        y = draw_snap(y, lw);
        cairo_set_line_width(cr, lw);
        cairo_move_to(cr, round(x0), y);
        cairo_line_to(cr, round(x1), y);
        cairo_stroke(cr);
}

void draw_vline(cairo_t *cr, double x, double y0, double y1, double lw)
{
        x = draw_snap(x, lw);
        cairo_set_line_width(cr, lw);
        cairo_move_to(cr, x, round(y0));
        cairo_line_to(cr, x, round(y1));
        cairo_stroke(cr);
}

void draw_font(cairo_t *cr, double size, bool bold)
{
        cairo_select_font_face(cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, size);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
        size_t n = s[0] < 0x80          ? 1
                : (s[0] & 0xE0) == 0xC0 ? 2
                : (s[0] & 0xF0) == 0xE0 ? 3
                : (s[0] & 0xF8) == 0xF0 ? 4
                                        : 0;

        if (n == 2 && s[0] < 0xC2)
                return 0; /* overlong */
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        return n;
}

/*
 * Cairo refuses text that is not UTF-8 and then refuses everything after it
 * (a thread name from /proc or a label in a CSV can be any bytes): such
 * bytes become '?' here, so one odd name cannot cost the whole image.
 */
static const char *utf8_clean(const char *s, char *buf, size_t size)
{
        const unsigned char *p = (const unsigned char *) s;
        size_t o = 0;
        bool clean = true;

        for (const unsigned char *q = p; *q;) {
                size_t n = utf8_seq(q);
                if (n == 0) {
                        clean = false;
                        break;
                }
                q += n;
        }
        if (clean)
                return s;
        while (*p && o + 5 < size) {
                size_t n = utf8_seq(p);
                if (n == 0) {
                        buf[o++] = '?';
                        p++;
                        continue;
                }
                for (size_t i = 0; i < n; i++)
                        buf[o++] = (char) p[i];
                p += n;
        }
        buf[o] = '\0';
        return buf;
}

double draw_text_width(cairo_t *cr, const char *s)
{
        cairo_text_extents_t e;
        char buf[1024];

        cairo_text_extents(cr, utf8_clean(s, buf, sizeof(buf)), &e);
        return e.x_advance;
}

/* Capital height: about 0.73 em in DejaVu Sans; asking the font keeps it honest. */
static double cap_height(cairo_t *cr)
{
        cairo_text_extents_t e;

        cairo_text_extents(cr, "H", &e);
        return -e.y_bearing;
}

double draw_text(cairo_t *cr, double x, double y, double ax, double ay, const char *s)
{
        double w = draw_text_width(cr, s), ch = cap_height(cr);

        char buf[1024];

        cairo_move_to(cr, x - ax * w, y + (1.0 - ay) * ch);
        cairo_show_text(cr, utf8_clean(s, buf, sizeof(buf)));
        return w;
}

void draw_text_plate(cairo_t *cr, double x, double y, double ax, double ay, const char *s, double pad)
{
        double w = draw_text_width(cr, s), ch = cap_height(cr);
        double bx = x - ax * w - pad, by = y - ay * ch - pad, bw = w + 2 * pad, bh = ch + 2 * pad;
        cairo_pattern_t *src = cairo_get_source(cr);

        cairo_pattern_reference(src);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
        cairo_rectangle(cr, bx, by, bw, bh);
        cairo_fill(cr);
        cairo_set_source(cr, src);
        cairo_pattern_destroy(src);
        draw_text(cr, x, y, ax, ay, s);
}

/*
 * Cairo's stroker holds the whole outline of a path until it is filled: for
 * a day of spikes that is megabytes. Stroking in pieces of this many points
 * (round caps hide the seams) keeps it to kilobytes.
 */
#define STROKE_CHUNK 256

void draw_series(cairo_t *cr, const PlotPoint *p, size_t n, const Scale *xs, const Scale *ys, double dot)
{
        size_t run = 0;
        cairo_line_cap_t cap = cairo_get_line_cap(cr);

        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        cairo_new_path(cr);
        for (size_t i = 0; i <= n; i++) {
                bool end = i == n || isnan(p[i].y);
                double x, y;

                if (end) {
                        /* A lone point has no length to stroke: give it a dot. */
                        if (run == 1) {
                                const PlotPoint *q = &p[i - 1];
                                cairo_new_sub_path(cr);
                                cairo_arc(cr, scale_map(xs, q->x), scale_map(ys, q->y), dot, 0, 2 * M_PI);
                                cairo_fill(cr);
                        }
                        cairo_stroke(cr);
                        run = 0;
                        continue;
                }
                x = scale_map(xs, p[i].x);
                y = scale_map(ys, p[i].y);
                if (run == 0)
                        cairo_move_to(cr, x, y);
                else
                        cairo_line_to(cr, x, y);
                if (++run % STROKE_CHUNK == 0) {
                        cairo_stroke(cr);
                        cairo_move_to(cr, x, y);
                }
        }
        cairo_set_line_cap(cr, cap);
}

void draw_series_fill(cairo_t *cr, const PlotPoint *p, size_t n, const Scale *xs, const Scale *ys,
                      double base)
{
        size_t start = 0;

        cairo_new_path(cr);
        for (size_t i = 0; i <= n; i++) {
                if (i < n && !isnan(p[i].y))
                        continue;
                if (i - start >= 2) {
                        cairo_move_to(cr, scale_map(xs, p[start].x), base);
                        for (size_t j = start; j < i; j++)
                                cairo_line_to(cr, scale_map(xs, p[j].x), scale_map(ys, p[j].y));
                        cairo_line_to(cr, scale_map(xs, p[i - 1].x), base);
                        cairo_close_path(cr);
                }
                start = i + 1;
        }
        cairo_fill(cr);
}

void draw_swatch(cairo_t *cr, double x, double y, double len, Rgb c, double lw, Dash dash, bool filled)
{
        cairo_save(cr);
        draw_set_color(cr, c, 1.0);
        if (filled) {
                draw_set_color(cr, c, 0.25);
                cairo_rectangle(cr, x, y - len * 0.3, len, len * 0.6);
                cairo_fill(cr);
                draw_set_color(cr, c, 1.0);
        }
        cairo_set_line_width(cr, lw);
        draw_set_dash(cr, dash, lw);
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + len, y);
        cairo_stroke(cr);
        cairo_restore(cr);
}

void format_value(double v, char *buf, size_t size)
{
        double a = fabs(v);

        if (a >= 1e6)
                snprintf(buf, size, "%.3g", v);
        else if (a >= 1000)
                snprintf(buf, size, "%.0f", v);
        else if (a >= 10)
                snprintf(buf, size, "%.1f", v);
        else
                snprintf(buf, size, "%.2f", v);
}

void format_clock(double s, char *buf, size_t size)
{
        long t;

        if (!isfinite(s) || s < 0 || s > 1e9) {
                snprintf(buf, size, "?");
                return;
        }
        if (s < 60) {
                snprintf(buf, size, s == floor(s) ? "%.0f s" : "%.1f s", s);
                return;
        }
        t = lround(s);
        if (t < 3600)
                snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
        else
                snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

void format_span(double s, char *buf, size_t size)
{
        long t;

        if (!isfinite(s) || s < 0 || s > 1e9) {
                snprintf(buf, size, "?");
                return;
        }
        t = lround(s);
        if (s < 10 && s != floor(s))
                snprintf(buf, size, "%.1f s", s);
        else if (t < 60)
                snprintf(buf, size, "%ld s", t);
        else if (t < 3600)
                snprintf(buf, size, "%ld min %02ld s", t / 60, t % 60);
        else
                snprintf(buf, size, "%ld h %02ld min", t / 3600, t / 60 % 60);
}
