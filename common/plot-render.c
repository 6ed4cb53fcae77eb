/* SPDX-License-Identifier: MIT */
#include "plot-render.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plot-draw.h"

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

static const unsigned thread_palette[] = { 0x2563eb, 0xdb2777, 0x16a34a, 0xd97706, 0x7c3aed, 0x0891b2 };

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
        char title[80];                  /* over the panel, left */
        const char *axis;                /* y axis title, with unit */
        const char *unit;                /* after values in labels */
        LegendItem legend[MAX_LEGEND];
        size_t n_legend;
        unsigned legend_rows;
        double legend_w;                 /* the legend wraps at this width */
        Note notes[MAX_NOTES];
        size_t n_notes;
        double lo, hi;                   /* the value range to show */
        double weight;                   /* share of the height */
        double header;                   /* height above the plot area */
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
        double fs, px, lw;               /* base font; a hairline; a data line */
        Stats cpu, mem, prof;
        PanelSpec spec[_PLOT_PANEL_MAX];
        PlotLayout L;
        double title_y, subtitle_y, xlabel_y, xtitle_y, left_title_x;
} Ctx;

void plot_time_range(const PlotCpuData *d, const PlotSession *s, double *ret_x0, double *ret_x1)
{
        double first = d->n ? d->elapsed[0] : 0, last = d->n ? d->elapsed[d->n - 1] : 0;
        double x0, x1 = last;

        /* Events just past the last row (PAM exiting at the end) stay in view. */
        for (size_t i = 0; s && i < s->n_events; i++)
                if (s->events[i].t > x1 && s->events[i].t <= last + 0.1 * (last - first) + 5)
                        x1 = s->events[i].t;
        x0 = first <= 0.1 * (x1 - first) ? 0 : first;
        if (x1 <= x0) {
                /* One row: a second around it, never before zero. */
                x0 = fmax(0, x1 - 1);
                x1 = x0 + 2;
        }
        *ret_x0 = x0;
        *ret_x1 = x1;
}

bool plot_row_breaks(const PlotCpuData *d, size_t i, double gap)
{
        if (i == 0)
                return false;
        if (gap > 0 && d->elapsed[i] - d->elapsed[i - 1] > gap)
                return true;
        return d->pid && d->pid[i] && d->pid[i - 1] && d->pid[i] != d->pid[i - 1];
}

static Stats stats_of(const float *y, size_t n)
{
        Stats s = {};

        if (y)
                s.ok = scale_mean_max(y, n, &s.mean, &s.max, &s.argmax) == 0;
        return s;
}

static void legend_add(PanelSpec *p, Rgb c, Dash dash, bool filled, const char *fmt, ...) _printf_(5, 6);
static void legend_add(PanelSpec *p, Rgb c, Dash dash, bool filled, const char *fmt, ...)
{
        va_list ap;
        LegendItem *it;

        if (p->n_legend >= MAX_LEGEND)
                return;
        it = &p->legend[p->n_legend++];
        *it = (LegendItem) { .c = c, .dash = dash, .filled = filled };
        va_start(ap, fmt);
        vsnprintf(it->text, sizeof(it->text), fmt, ap);
        va_end(ap);
}

static void note_add(PanelSpec *p, double value, Rgb c, const char *what, const char *unit)
{
        Note *n;
        char v[32];

        if (p->n_notes >= MAX_NOTES || !isfinite(value))
                return;
        n = &p->notes[p->n_notes++];
        if (value == floor(value) && value < 1e6)
                snprintf(v, sizeof(v), "%.0f", value);
        else
                format_value(value, v, sizeof(v));
        n->value = value;
        n->c = c;
        snprintf(n->text, sizeof(n->text), "%s %s %s", what, v, unit);
}

static void spec_cpu(Ctx *c)
{
        PanelSpec *p = &c->spec[PLOT_PANEL_CPU];

        *p = (PanelSpec) { .title = "CPU", .axis = "CPU (% of all cores)", .unit = "%", .weight = 1.2 };
        legend_add(p, C_CPU, DASH_SOLID, true, "PAM");
        if (c->prof.ok)
                legend_add(p, C_PROF, DASH_SOLID, false, "py-spy (mean %.2f %%)", c->prof.mean);
        legend_add(p, C_CPU, DASH_DOTTED, false, "mean");
        legend_add(p, C_TARGET, DASH_DASHED, false, "idle target");
        note_add(p, c->cpu.mean, C_CPU, "mean", "%");
        note_add(p, PLOT_IDLE_TARGET_PERCENT, C_TARGET, "target", "%");
        p->lo = 0;
        p->hi = fmax(PLOT_IDLE_TARGET_PERCENT * 1.25, fmax(c->cpu.ok ? c->cpu.max : 0, c->prof.ok ? c->prof.max : 0));
}

static void spec_mem(Ctx *c)
{
        PanelSpec *p = &c->spec[PLOT_PANEL_MEMORY];
        double lo, hi, mid, span;
        size_t n = c->f->cpu->n;
        const float *y = c->f->cpu->mem;

        *p = (PanelSpec) { .title = "Memory", .axis = "RSS (MB)", .unit = "MB", .weight = 1.0 };
        legend_add(p, C_MEM, DASH_SOLID, true, "PAM resident set");
        legend_add(p, C_MEM, DASH_DOTTED, false, "mean");
        note_add(p, c->mem.mean, C_MEM, "mean", "MB");
        lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++)
                if (isfinite(y[i])) {
                        lo = fmin(lo, y[i]);
                        hi = fmax(hi, y[i]);
                }
        if (!isfinite(lo)) {
                p->lo = 0, p->hi = 1;
                return;
        }
        /* Leaks must show, but a flat 120 MB must not look like a storm: a floor on the span. */
        mid = (lo + hi) / 2;
        span = fmax(hi - lo, fmax(2.0, 0.02 * hi)) * 1.1;
        p->lo = fmax(0, mid - span / 2);
        p->hi = mid + span / 2;
        if (p->lo < 0.15 * p->hi)
                p->lo = 0;
}

static void spec_threads(Ctx *c)
{
        PanelSpec *p = &c->spec[PLOT_PANEL_THREADS];
        const PlotThreads *t = c->f->threads;
        double hi = 1;

        *p = (PanelSpec) { .axis = "CPU (% of one core)", .unit = "%", .weight = 1.0 };
        snprintf(p->title, sizeof(p->title), "Threads (busiest %zu of %zu)", t->n_top, t->n_threads);
        for (size_t i = 0; i < t->n_top; i++) {
                char label[80];
                plot_thread_label(&t->top[i], label, sizeof(label));
                legend_add(p, RGB_HEX(thread_palette[i % ELEMENTSOF(thread_palette)]), DASH_SOLID, false,
                           "%s  mean %.1f %%", label, t->top[i].mean);
                hi = fmax(hi, t->top[i].max);
        }
        if (t->has_other) {
                legend_add(p, C_OTHER, DASH_SOLID, false, "%zu others, summed", t->n_threads - t->n_top);
                for (size_t i = 0; i < t->other.n; i++)
                        if (isfinite(t->other.out[i].y))
                                hi = fmax(hi, t->other.out[i].y);
        }
        p->lo = 0;
        p->hi = hi;
}

/* Legend item width: swatch, gap, text, then room before the next. */
static double legend_item_width(Ctx *c, const LegendItem *it)
{
        return 1.9 * c->fs + draw_text_width(c->cr, it->text) + 1.3 * c->fs;
}

/* Greedy rows within width; row_of[i] per item, row widths in row_w. Returns the rows. */
static unsigned legend_assign(Ctx *c, const PanelSpec *p, double width, unsigned *row_of, double *row_w)
{
        unsigned row = 0;

        draw_font(c->cr, 0.9 * c->fs, false);
        row_w[0] = 0;
        for (size_t i = 0; i < p->n_legend; i++) {
                double iw = legend_item_width(c, &p->legend[i]);
                if (row_w[row] > 0 && row_w[row] + iw > width && row + 1 < MAX_LEGEND) {
                        row++;
                        row_w[row] = 0;
                }
                row_of[i] = row;
                row_w[row] += iw;
        }
        return row + 1;
}

static int panel_ticks(Ctx *c, PanelSpec *p, PlotPanel *pp)
{
        unsigned max = (unsigned) fmax(3, fmin(10, pp->h / (2.4 * c->fs)));
        double hi = p->hi;

        /* 5 % of headroom over the top value, as a plotting library leaves. */
        if (p->lo == 0)
                hi = p->hi * 1.05;
        return scale_ticks(p->lo, hi, max, true, &pp->yticks);
}

static double tick_labels_width(Ctx *c, const PlotPanel *pp)
{
        double w = 0;
        char buf[48];

        draw_font(c->cr, 0.9 * c->fs, false);
        for (unsigned i = 0; i < pp->yticks.count; i++) {
                scale_format_tick(&pp->yticks, pp->yticks.values[i], 1, buf, sizeof(buf));
                w = fmax(w, draw_text_width(c->cr, buf));
        }
        return w;
}

static double notes_width(Ctx *c)
{
        double w = 0;

        draw_font(c->cr, 0.85 * c->fs, false);
        for (unsigned k = 0; k < c->L.n_panels; k++)
                for (size_t i = 0; i < c->spec[k].n_notes; i++)
                        w = fmax(w, draw_text_width(c->cr, c->spec[k].notes[i].text));
        return w;
}

static int layout(Ctx *c)
{
        PlotLayout *L = &c->L;
        double fs = c->fs, top, bottom, left, right, avail, wsum = 0, y, tw = 0;
        unsigned max_x;
        int r;

        top = 1.0 * fs;
        c->title_y = top;                                 /* cap top of the title */
        c->subtitle_y = c->title_y + 1.45 * fs * 0.73 + 0.75 * fs;
        top = c->subtitle_y + 0.73 * fs + 1.4 * fs;
        bottom = 0.9 * fs + 1.0 * fs + 1.1 * fs + 0.9 * fs + 0.8 * fs;
        right = notes_width(c) + 1.4 * fs;
        left = 0.8 * fs + 1.2 * fs + 0.6 * fs;
        c->left_title_x = 0.8 * fs + 0.6 * fs;
        /* First guess at the label width, for the legend wrap; the real one follows. */
        for (unsigned k = 0; k < L->n_panels; k++) {
                PlotPanel tmp = { .h = c->h / 4.0 };
                if (panel_ticks(c, &c->spec[k], &tmp) == 0)
                        tw = fmax(tw, tick_labels_width(c, &tmp));
        }
        avail = c->h - top - bottom;
        for (unsigned k = 0; k < L->n_panels; k++) {
                PanelSpec *p = &c->spec[k];
                double title_w;
                draw_font(c->cr, fs, true);
                title_w = draw_text_width(c->cr, p->title) + 1.5 * fs;
                double row_w[MAX_LEGEND];
                unsigned row_of[MAX_LEGEND];
                p->legend_w = fmax(10 * fs, c->w - left - tw - 0.9 * fs - right - title_w);
                p->legend_rows = legend_assign(c, p, p->legend_w, row_of, row_w);
                p->header = (0.6 + 1.45 * p->legend_rows) * fs;
                avail -= p->header + (k > 0 ? 1.0 * fs : 0);
                wsum += p->weight;
        }
        if (avail < 3 * L->n_panels * fs)
                return -ERANGE;
        y = top;
        for (unsigned k = 0; k < L->n_panels; k++) {
                PlotPanel *pp = &L->panel[k];
                y += c->spec[k].header + (k > 0 ? 1.0 * fs : 0);
                pp->y = round(y);
                pp->h = round(avail * c->spec[k].weight / wsum);
                y = pp->y + pp->h;
                r = panel_ticks(c, &c->spec[k], pp);
                if (r < 0)
                        return r;
        }
        tw = 0;
        for (unsigned k = 0; k < L->n_panels; k++)
                tw = fmax(tw, tick_labels_width(c, &L->panel[k]));
        left += tw + 0.9 * fs;
        for (unsigned k = 0; k < L->n_panels; k++) {
                PlotPanel *pp = &L->panel[k];
                pp->x = round(left);
                pp->w = round(c->w - right) - pp->x;
                pp->ys = (Scale) { pp->yticks.lo, pp->yticks.hi, pp->y + pp->h, pp->y };
        }
        if (L->panel[0].w < 4 * fs)
                return -ERANGE;
        max_x = (unsigned) fmax(2, fmin(16, L->panel[0].w / (5.5 * fs)));
        r = scale_time_ticks(c->f->x0, c->f->x1, max_x, &L->xticks);
        if (r < 0)
                return r;
        L->xs = (Scale) { c->f->x0, c->f->x1, L->panel[0].x, L->panel[0].x + L->panel[0].w };
        y = L->panel[L->n_panels - 1].y + L->panel[L->n_panels - 1].h;
        c->xlabel_y = y + 0.9 * fs;
        c->xtitle_y = c->xlabel_y + 0.9 * 0.73 * fs + 1.0 * fs;
        L->font = fs;
        return 0;
}

/* Background, clip and grid of one panel; leaves the clip on for the data. */
static void panel_begin(Ctx *c, const PlotPanel *pp)
{
        cairo_t *cr = c->cr;
        const PlotLayout *L = &c->L;

        cairo_save(cr);
        cairo_rectangle(cr, pp->x, pp->y, pp->w, pp->h);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill_preserve(cr);
        cairo_clip(cr);
        draw_set_color(cr, C_GRID, 1.0);
        for (unsigned i = 0; i < pp->yticks.count; i++)
                draw_hline(cr, pp->x, pp->x + pp->w, scale_map(&pp->ys, pp->yticks.values[i]), c->px);
        for (unsigned i = 0; i < L->xticks.ticks.count; i++)
                draw_vline(cr, scale_map(&L->xs, L->xticks.ticks.values[i]), pp->y, pp->y + pp->h, c->px);
}

/* Time jumps where PAM was absent: a light band, drawn under the data. */
static void draw_gaps(Ctx *c, const PlotPanel *pp)
{
        const PlotCpuData *d = c->f->cpu;
        cairo_t *cr = c->cr;

        if (c->f->gap <= 0)
                return;
        draw_set_color(cr, C_GAP, 0.16);
        for (size_t i = 1; i < d->n; i++)
                if (d->elapsed[i] - d->elapsed[i - 1] > c->f->gap) {
                        double a = scale_map(&c->L.xs, d->elapsed[i - 1]), b = scale_map(&c->L.xs, d->elapsed[i]);
                        /* A minute in a day is under a pixel: keep every gap visible. */
                        if (b - a < 2 * c->px) {
                                a = (a + b) / 2 - c->px;
                                b = a + 2 * c->px;
                        }
                        cairo_rectangle(cr, a, pp->y, b - a, pp->h);
                }
        cairo_fill(cr);
}

static Rgb event_color(PlotEventKind k)
{
        switch (k) {
        case PLOT_EVENT_TARGET_EXIT:
                return RGB_HEX(0xdc2626);
        case PLOT_EVENT_TARGET_RETURN:
                return RGB_HEX(0x16a34a);
        case PLOT_EVENT_PROFILER_FAILED:
                return RGB_HEX(0xea580c);
        case PLOT_EVENT_PROFILER_CHUNK:
                return RGB_HEX(0x9ca3af);
        default:
                return C_MUTED;
        }
}

static void draw_event_lines(Ctx *c, const PlotPanel *pp)
{
        const PlotSession *s = c->f->session;
        cairo_t *cr = c->cr;

        size_t chunks = 0;

        for (size_t i = 0; s && i < s->n_events; i++)
                chunks += s->events[i].kind == PLOT_EVENT_PROFILER_CHUNK;
        for (size_t i = 0; s && i < s->n_events; i++) {
                double x = scale_map(&c->L.xs, s->events[i].t), bottom = pp->y + pp->h;
                /* A day of py-spy chunks would hatch the panel: past one per 20 px, only a tick on top. */
                if (s->events[i].kind == PLOT_EVENT_PROFILER_CHUNK && chunks > pp->w / 20)
                        bottom = pp->y + 0.6 * c->fs;
                draw_set_color(cr, event_color(s->events[i].kind), 0.9);
                draw_set_dash(cr, bottom < pp->y + pp->h ? DASH_SOLID : DASH_DASHED, c->px * 1.5);
                draw_vline(cr, x, pp->y, bottom, c->px);
        }
        draw_set_dash(cr, DASH_SOLID, 1);
}

/* A series of the CPU CSV, decimated to the panel's pixel columns. */
static int decimate_column(Ctx *c, const float *y, const PlotPanel *pp, Decimator *d)
{
        const PlotCpuData *cpu = c->f->cpu;
        int r = 0;

        decimator_init(d, c->f->x0, c->f->x1, (unsigned) fmax(1, ceil(pp->w)));
        for (size_t i = 0; r == 0 && i < cpu->n; i++) {
                if (plot_row_breaks(cpu, i, c->f->gap))
                        r = decimator_break(d);
                if (r == 0)
                        r = decimator_push(d, cpu->elapsed[i], y[i]);
        }
        return r < 0 ? r : decimator_finish(d);
}

static int draw_column(Ctx *c, const float *y, const PlotPanel *pp, Rgb col, double lw, bool fill)
{
        Decimator d;
        int r = decimate_column(c, y, pp, &d);

        if (r == 0) {
                if (fill) {
                        draw_set_color(c->cr, col, 0.13);
                        draw_series_fill(c->cr, d.out, d.n, &c->L.xs, &pp->ys, pp->y + pp->h);
                }
                draw_set_color(c->cr, col, 1.0);
                cairo_set_line_width(c->cr, lw);
                draw_series(c->cr, d.out, d.n, &c->L.xs, &pp->ys, 1.6 * lw);
        }
        decimator_done(&d);
        return r;
}

static void draw_level(Ctx *c, const PlotPanel *pp, double v, Rgb col, Dash dash, double lw)
{
        if (!isfinite(v) || v < pp->yticks.lo || v > pp->yticks.hi)
                return;
        draw_set_color(c->cr, col, 0.95);
        draw_set_dash(c->cr, dash, lw);
        draw_hline(c->cr, pp->x, pp->x + pp->w, scale_map(&pp->ys, v), lw);
        draw_set_dash(c->cr, DASH_SOLID, 1);
}

/* The maximum: a ring on the point and "max 23.4 % at 4:05" beside it. */
static void draw_max(Ctx *c, const PlotPanel *pp, const Stats *s, const char *unit, Rgb col)
{
        cairo_t *cr = c->cr;
        double x = scale_map(&c->L.xs, c->f->cpu->elapsed[s->argmax]), y = scale_map(&pp->ys, s->max);
        char v[32], t[32], text[96];
        double w, ax = 0, tx, ty;

        format_value(s->max, v, sizeof(v));
        format_clock(c->f->cpu->elapsed[s->argmax], t, sizeof(t));
        snprintf(text, sizeof(text), "max %s %s at %s", v, unit, t);
        draw_set_color(cr, col, 1.0);
        cairo_set_line_width(cr, c->lw);
        cairo_new_path(cr);
        cairo_arc(cr, x, y, 0.38 * c->fs, 0, 2 * M_PI);
        cairo_stroke(cr);
        draw_font(cr, 0.85 * c->fs, true);
        w = draw_text_width(cr, text);
        tx = x + 0.7 * c->fs;
        if (tx + w > pp->x + pp->w - 0.3 * c->fs) {
                tx = x - 0.7 * c->fs;
                ax = 1;
        }
        ty = fmax(y - 0.55 * c->fs, pp->y + 0.9 * c->fs);
        draw_set_color(cr, C_TEXT, 1.0);
        draw_text_plate(cr, tx, ty, ax, 0.5, text, 0.2 * c->fs);
}

static int draw_cpu(Ctx *c, const PlotPanel *pp)
{
        const PlotCpuData *d = c->f->cpu;
        int r = 0;

        draw_level(c, pp, PLOT_IDLE_TARGET_PERCENT, C_TARGET, DASH_DASHED, c->px * 1.5);
        if (c->prof.ok)
                r = draw_column(c, d->prof_cpu, pp, C_PROF, c->lw * 0.8, false);
        if (r == 0 && c->cpu.ok)
                r = draw_column(c, d->cpu, pp, C_CPU, c->lw, true);
        if (r == 0 && c->cpu.ok) {
                draw_level(c, pp, c->cpu.mean, C_CPU, DASH_DOTTED, c->px * 1.5);
                draw_max(c, pp, &c->cpu, "%", C_CPU);
        }
        return r;
}

static int draw_mem(Ctx *c, const PlotPanel *pp)
{
        int r = 0;

        if (c->mem.ok)
                r = draw_column(c, c->f->cpu->mem, pp, C_MEM, c->lw, true);
        if (r == 0 && c->mem.ok) {
                draw_level(c, pp, c->mem.mean, C_MEM, DASH_DOTTED, c->px * 1.5);
                draw_max(c, pp, &c->mem, "MB", C_MEM);
        }
        return r;
}

static void draw_threads(Ctx *c, const PlotPanel *pp)
{
        const PlotThreads *t = c->f->threads;
        cairo_t *cr = c->cr;

        cairo_set_line_width(cr, c->lw * 0.8);
        if (t->has_other) {
                draw_set_color(cr, C_OTHER, 1.0);
                draw_series(cr, t->other.out, t->other.n, &c->L.xs, &pp->ys, c->lw);
        }
        /* Busiest last, so it is on top. */
        for (size_t i = t->n_top; i-- > 0;) {
                draw_set_color(cr, RGB_HEX(thread_palette[i % ELEMENTSOF(thread_palette)]), 1.0);
                draw_series(cr, t->top[i].line.out, t->top[i].line.n, &c->L.xs, &pp->ys, c->lw);
        }
}

/* Axis lines, ticks, tick labels and the y title: after the data, unclipped. */
static void panel_axes(Ctx *c, const PlotPanel *pp, const PanelSpec *p, bool last)
{
        cairo_t *cr = c->cr;
        double tick = 0.35 * c->fs;
        char buf[48];

        draw_set_color(cr, C_AXIS, 1.0);
        draw_vline(cr, pp->x, pp->y, pp->y + pp->h, c->px);
        draw_hline(cr, pp->x - tick, pp->x + pp->w, pp->y + pp->h, c->px);
        for (unsigned i = 0; i < pp->yticks.count; i++)
                draw_hline(cr, pp->x - tick, pp->x, scale_map(&pp->ys, pp->yticks.values[i]), c->px);
        for (unsigned i = 0; i < c->L.xticks.ticks.count; i++) {
                double x = scale_map(&c->L.xs, c->L.xticks.ticks.values[i]);
                draw_vline(cr, x, pp->y + pp->h, pp->y + pp->h + (last ? tick : tick * 0.6), c->px);
        }
        draw_font(cr, 0.9 * c->fs, false);
        draw_set_color(cr, C_TEXT, 1.0);
        for (unsigned i = 0; i < pp->yticks.count; i++) {
                scale_format_tick(&pp->yticks, pp->yticks.values[i], 1, buf, sizeof(buf));
                draw_text(cr, pp->x - tick - 0.45 * c->fs, scale_map(&pp->ys, pp->yticks.values[i]), 1, 0.5, buf);
        }
        cairo_save(cr);
        draw_font(cr, 0.95 * c->fs, false);
        cairo_translate(cr, c->left_title_x, pp->y + pp->h / 2);
        cairo_rotate(cr, -M_PI / 2);
        draw_text(cr, 0, 0, 0.5, 0, p->axis);
        cairo_restore(cr);
}

/* Panel title on the left, legend on the right, each row right-aligned. */
static void panel_header(Ctx *c, const PlotPanel *pp, const PanelSpec *p)
{
        cairo_t *cr = c->cr;
        double row_h = 1.45 * c->fs, y0 = pp->y - p->header + 0.35 * c->fs + 0.5 * row_h;
        double row_w[MAX_LEGEND], x = 0;
        unsigned row_of[MAX_LEGEND], rows;

        draw_font(cr, c->fs, true);
        draw_set_color(cr, C_TEXT, 1.0);
        draw_text(cr, pp->x, y0 + (p->legend_rows - 1) * row_h, 0, 0.5, p->title);
        rows = legend_assign(c, p, p->legend_w, row_of, row_w);
        for (size_t i = 0; i < p->n_legend; i++) {
                const LegendItem *it = &p->legend[i];
                double y = y0 + row_of[i] * row_h;
                if (i == 0 || row_of[i] != row_of[i - 1])
                        x = pp->x + pp->w - row_w[row_of[i]] + 1.3 * c->fs;
                draw_swatch(cr, x, y, 1.5 * c->fs, it->c, it->dash == DASH_SOLID ? c->lw : c->px * 1.5,
                            it->dash, it->filled);
                draw_set_color(cr, C_TEXT, 1.0);
                draw_font(cr, 0.9 * c->fs, false);
                draw_text(cr, x + 1.9 * c->fs, y, 0, 0.5, it->text);
                x += legend_item_width(c, it);
        }
        (void) rows;
}

static void panel_notes(Ctx *c, const PlotPanel *pp, const PanelSpec *p)
{
        double y[MAX_NOTES];
        cairo_t *cr = c->cr;

        draw_font(cr, 0.85 * c->fs, false);
        for (size_t i = 0; i < p->n_notes; i++)
                y[i] = scale_map(&pp->ys, p->notes[i].value);
        scale_spread_labels(y, p->n_notes, 1.25 * c->fs, pp->y + 0.4 * c->fs, pp->y + pp->h - 0.4 * c->fs);
        for (size_t i = 0; i < p->n_notes; i++) {
                if (p->notes[i].value < pp->yticks.lo || p->notes[i].value > pp->yticks.hi)
                        continue;
                draw_set_color(cr, p->notes[i].c, 1.0);
                draw_text(cr, pp->x + pp->w + 0.5 * c->fs, y[i], 0, 0.5, p->notes[i].text);
        }
}

/* Event labels along the top of the first panel, in rows so they never overlap. */
static void event_labels(Ctx *c)
{
        const PlotSession *s = c->f->session;
        const PlotPanel *pp = &c->L.panel[0];
        double left[64], width[64];
        int row[64];
        size_t n;
        cairo_t *cr = c->cr;

        if (!s || s->n_events == 0)
                return;
        n = s->n_events < 64 ? s->n_events : 64;
        draw_font(cr, 0.8 * c->fs, false);
        for (size_t i = 0; i < n; i++) {
                double x = scale_map(&c->L.xs, s->events[i].t);
                width[i] = draw_text_width(cr, s->events[i].label) + 0.5 * c->fs;
                left[i] = fmin(x + 0.25 * c->fs, pp->x + pp->w - width[i]);
        }
        scale_place_labels(left, width, n, 3, 0.3 * c->fs, row);
        for (size_t i = 0; i < n; i++) {
                if (row[i] < 0)
                        continue;
                draw_set_color(cr, event_color(s->events[i].kind), 1.0);
                draw_text_plate(cr, left[i] + 0.2 * c->fs, pp->y + (0.8 + 1.35 * row[i]) * c->fs, 0, 0.5,
                                s->events[i].label, 0.18 * c->fs);
        }
}

static void x_axis_labels(Ctx *c)
{
        const TimeTicks *xt = &c->L.xticks;
        const PlotPanel *pp = &c->L.panel[0];
        cairo_t *cr = c->cr;
        char buf[48];

        draw_font(cr, 0.9 * c->fs, false);
        draw_set_color(cr, C_TEXT, 1.0);
        for (unsigned i = 0; i < xt->ticks.count; i++) {
                scale_format_tick(&xt->ticks, xt->ticks.values[i], xt->unit_seconds, buf, sizeof(buf));
                draw_text(cr, scale_map(&c->L.xs, xt->ticks.values[i]), c->xlabel_y, 0.5, 0, buf);
        }
        snprintf(buf, sizeof(buf), "Elapsed time (%s)", time_unit_name(xt->unit));
        draw_font(cr, 0.95 * c->fs, false);
        draw_text(cr, pp->x + pp->w / 2, c->xtitle_y, 0.5, 0, buf);
}

static void titles(Ctx *c)
{
        cairo_t *cr = c->cr;
        double x = c->L.panel[0].x;

        draw_set_color(cr, C_TEXT, 1.0);
        draw_font(cr, 1.45 * c->fs, true);
        draw_text(cr, x, c->title_y, 0, 0, c->f->title ? c->f->title : "PAM");
        if (c->f->subtitle) {
                draw_set_color(cr, C_MUTED, 1.0);
                draw_font(cr, 1.0 * c->fs, false);
                draw_text(cr, x, c->subtitle_y, 0, 0, c->f->subtitle);
        }
}

static int draw_panel(Ctx *c, unsigned k)
{
        const PlotPanel *pp = &c->L.panel[k];
        int r = 0;

        panel_begin(c, pp);
        draw_gaps(c, pp);
        if (k == PLOT_PANEL_CPU)
                r = draw_cpu(c, pp);
        else if (k == PLOT_PANEL_MEMORY)
                r = draw_mem(c, pp);
        else
                draw_threads(c, pp);
        draw_event_lines(c, pp);
        cairo_restore(c->cr); /* the clip */
        panel_axes(c, pp, &c->spec[k], k + 1 == c->L.n_panels);
        panel_header(c, pp, &c->spec[k]);
        panel_notes(c, pp, &c->spec[k]);
        return r;
}

static void setup_fonts(cairo_t *cr)
{
        cairo_font_options_t *fo = cairo_font_options_create();

        cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
        cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
        cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
        cairo_set_font_options(cr, fo);
        cairo_font_options_destroy(fo);
}

int plot_draw(cairo_t *cr, unsigned width, unsigned height, const PlotFigure *f, PlotLayout *ret_layout)
{
        double s = sqrt((double) width * height / (1600.0 * 900.0));
        Ctx c = { .cr = cr, .f = f, .w = width, .h = height };
        int r;

        if (!f->cpu || f->cpu->n == 0)
                return -ENODATA;
        c.fs = fmax(9.0, 14.0 * s);
        c.px = fmax(1.0, round(s));
        c.lw = fmax(1.2, 1.7 * s);
        c.cpu = stats_of(f->cpu->cpu, f->cpu->n);
        c.mem = stats_of(f->cpu->mem, f->cpu->n);
        c.prof = stats_of(f->cpu->prof_cpu, f->cpu->n);
        c.L.n_panels = f->threads ? 3 : 2;
        setup_fonts(cr);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        spec_cpu(&c);
        spec_mem(&c);
        if (f->threads)
                spec_threads(&c);
        r = layout(&c);
        if (r < 0)
                return r;
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        for (unsigned k = 0; r == 0 && k < c.L.n_panels; k++)
                r = draw_panel(&c, k);
        if (r < 0)
                return r;
        event_labels(&c);
        x_axis_labels(&c);
        titles(&c);
        if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
                return cairo_status(cr) == CAIRO_STATUS_NO_MEMORY ? -ENOMEM : -EIO;
        if (ret_layout)
                *ret_layout = c.L;
        return 0;
}
