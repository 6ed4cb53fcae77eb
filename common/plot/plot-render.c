/* SPDX-License-Identifier: MIT */
#include "plot-render.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot-draw.h"
#include "plot-figure.h"

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
        Stats s = { 0 };

        if (y)
                s.ok = scale_mean_max(y, n, &s.mean, &s.max, &s.argmax) == 0;
        return s;
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

/* The title's, subtitle's and warning's lines; returns where the panels start. */
static double title_lines(Ctx *c)
{
        double fs = c->fs;

        c->title_y = 1.0 * fs; /* cap top of the title */
        c->subtitle_y = c->title_y + 1.45 * fs * 0.73 + 0.75 * fs;
        c->warning_y = c->subtitle_y + 0.73 * fs + 0.6 * fs;
        return (c->f->warning ? c->warning_y : c->subtitle_y) + 0.73 * fs + 1.4 * fs;
}

/* Each panel's legend rows and header above it, for a label width of tw, taken from *avail. */
static void panel_headers(Ctx *c, double left, double right, double tw, double *avail, double *wsum)
{
        double fs = c->fs;

        for (unsigned k = 0; k < c->L.n_panels; k++) {
                PanelSpec *p = &c->spec[k];
                double title_w;
                draw_font(c->cr, fs, true);
                title_w = draw_text_width(c->cr, p->title) + 1.5 * fs;
                double row_w[MAX_LEGEND];
                unsigned row_of[MAX_LEGEND];
                p->legend_w = fmax(10 * fs, c->w - left - tw - 0.9 * fs - right - title_w);
                p->legend_rows = figure_legend_assign(c, p, p->legend_w, row_of, row_w);
                p->header = (0.6 + 1.45 * p->legend_rows) * fs;
                *avail -= p->header + (k > 0 ? 1.0 * fs : 0);
                *wsum += p->weight;
        }
}

/* The panels one below the other from top, sharing avail by weight, each with its value ticks. */
static int stack_panels(Ctx *c, double top, double avail, double wsum)
{
        double y = top;
        int r;

        for (unsigned k = 0; k < c->L.n_panels; k++) {
                PlotPanel *pp = &c->L.panel[k];
                y += c->spec[k].header + (k > 0 ? 1.0 * c->fs : 0);
                pp->y = round(y);
                pp->h = round(avail * c->spec[k].weight / wsum);
                y = pp->y + pp->h;
                r = panel_ticks(c, &c->spec[k], pp);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The time axis under the panels: its ticks, its scale and its labels' lines. */
static int time_axis(Ctx *c)
{
        PlotLayout *L = &c->L;
        double fs = c->fs, y;
        unsigned max_x;
        int r;

        if (L->panel[0].w < 4 * fs)
                return -ERANGE;
        max_x = (unsigned) fmax(2, fmin(16, L->panel[0].w / (5.5 * fs)));
        r = scale_time_ticks(c->f->x0, c->f->x1, max_x, &L->xticks);
        if (r < 0)
                return r;
        L->xs = (Scale){ c->f->x0, c->f->x1, L->panel[0].x, L->panel[0].x + L->panel[0].w };
        y = L->panel[L->n_panels - 1].y + L->panel[L->n_panels - 1].h;
        c->xlabel_y = y + 0.9 * fs;
        c->xtitle_y = c->xlabel_y + 0.9 * 0.73 * fs + 1.0 * fs;
        return 0;
}

static int layout(Ctx *c)
{
        PlotLayout *L = &c->L;
        double fs = c->fs, top, bottom, left, right, avail, wsum = 0, tw = 0;
        int r;

        top = title_lines(c);
        bottom = 0.9 * fs + 1.0 * fs + 1.1 * fs + 0.9 * fs + 0.8 * fs;
        right = figure_notes_width(c) + 1.4 * fs;
        left = 0.8 * fs + 1.2 * fs + 0.6 * fs;
        c->left_title_x = 0.8 * fs + 0.6 * fs;
        /* First guess at the label width, for the legend wrap; the real one follows. */
        for (unsigned k = 0; k < L->n_panels; k++) {
                PlotPanel tmp = { .h = c->h / 4.0 };
                if (panel_ticks(c, &c->spec[k], &tmp) == 0)
                        tw = fmax(tw, tick_labels_width(c, &tmp));
        }
        avail = c->h - top - bottom;
        panel_headers(c, left, right, tw, &avail, &wsum);
        if (avail < 3 * L->n_panels * fs)
                return -ERANGE;
        r = stack_panels(c, top, avail, wsum);
        if (r < 0)
                return r;
        tw = 0;
        for (unsigned k = 0; k < L->n_panels; k++)
                tw = fmax(tw, tick_labels_width(c, &L->panel[k]));
        left += tw + 0.9 * fs;
        for (unsigned k = 0; k < L->n_panels; k++) {
                PlotPanel *pp = &L->panel[k];
                pp->x = round(left);
                pp->w = round(c->w - right) - pp->x;
                pp->ys = (Scale){ pp->yticks.lo, pp->yticks.hi, pp->y + pp->h, pp->y };
        }
        r = time_axis(c);
        if (r < 0)
                return r;
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
                        double a = scale_map(&c->L.xs, d->elapsed[i - 1]),
                               b = scale_map(&c->L.xs, d->elapsed[i]);
                        /* A minute in a day is under a pixel: keep every gap visible. */
                        if (b - a < 2 * c->px) {
                                a = (a + b) / 2 - c->px;
                                b = a + 2 * c->px;
                        }
                        cairo_rectangle(cr, a, pp->y, b - a, pp->h);
                }
        cairo_fill(cr);
}

static void draw_event_lines(Ctx *c, const PlotPanel *pp)
{
        const PlotSession *s = c->f->session;
        cairo_t *cr = c->cr;

        size_t chunks = 0;

        for (size_t i = 0; s && i < s->n_events; i++)
                chunks += s->events[i].kind == PLOT_EVENT_PROFILER_CHUNK ||
                        s->events[i].kind == PLOT_EVENT_PROFILER_EARLY;
        for (size_t i = 0; s && i < s->n_events; i++) {
                double x = scale_map(&c->L.xs, s->events[i].t), bottom = pp->y + pp->h;
                bool run_end = s->events[i].kind == PLOT_EVENT_PROFILER_CHUNK ||
                        s->events[i].kind == PLOT_EVENT_PROFILER_EARLY;
                /* A day of chunks (or of early stops) would hatch the panel: past one per 20 px, only a tick on top. */
                if (run_end && chunks > pp->w / 20)
                        bottom = pp->y + 0.6 * c->fs;
                draw_set_color(cr, figure_event_color(s->events[i].kind), 0.9);
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

/* The report's straight line through the rows it judged (one pid's), over their time only. */
static void draw_mem_fit(Ctx *c, const PlotPanel *pp)
{
        const MemTrend *m = &c->trend;
        cairo_t *cr = c->cr;

        double x0 = scale_map(&c->L.xs, m->t0), x1 = scale_map(&c->L.xs, m->t1);
        double y0 = scale_map(&pp->ys, mem_trend_line_at(m, m->t0)),
               y1 = scale_map(&pp->ys, mem_trend_line_at(m, m->t1));

        if (!isfinite(x0) || !isfinite(x1) || !isfinite(y0) || !isfinite(y1))
                return; /* none, or figures so large the line has no place: a non-finite point breaks Cairo */
        draw_set_color(cr, m->shape == MEM_LEAK ? C_TARGET : C_FIT, 0.95);
        draw_set_dash(cr, DASH_DASHED, c->px * 1.5);
        cairo_set_line_width(cr, c->px * 1.8);
        cairo_new_path(cr);
        cairo_move_to(cr, x0, y0);
        cairo_line_to(cr, x1, y1);
        cairo_stroke(cr);
        draw_set_dash(cr, DASH_SOLID, 1);
}

static int draw_mem(Ctx *c, const PlotPanel *pp)
{
        int r = 0;

        if (c->mem.ok)
                r = draw_column(c, c->f->cpu->mem, pp, C_MEM, c->lw, true);
        if (r == 0 && c->mem.ok) {
                draw_level(c, pp, c->mem.mean, C_MEM, DASH_DOTTED, c->px * 1.5);
                draw_mem_fit(c, pp);
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
                draw_set_color(cr, thread_color(i), 1.0);
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
                draw_text(cr, pp->x - tick - 0.45 * c->fs, scale_map(&pp->ys, pp->yticks.values[i]), 1, 0.5,
                          buf);
        }
        cairo_save(cr);
        draw_font(cr, 0.95 * c->fs, false);
        cairo_translate(cr, c->left_title_x, pp->y + pp->h / 2);
        cairo_rotate(cr, -M_PI / 2);
        draw_text(cr, 0, 0, 0.5, 0, p->axis);
        cairo_restore(cr);
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
        if (c->f->warning) {
                draw_set_color(cr, C_TARGET, 1.0);
                draw_font(cr, 1.0 * c->fs, true);
                draw_text(cr, x, c->warning_y, 0, 0, c->f->warning);
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
        figure_panel_header(c, pp, &c->spec[k]);
        figure_panel_notes(c, pp, &c->spec[k]);
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
        mem_trend_judge(f->cpu->elapsed, f->cpu->mem, f->cpu->pid, f->cpu->n, &c.trend);
        c.L.n_panels = f->threads ? 3 : 2;
        setup_fonts(cr);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        figure_spec_cpu(&c);
        figure_spec_mem(&c);
        if (f->threads)
                figure_spec_threads(&c);
        r = layout(&c);
        if (r < 0)
                return r;
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        for (unsigned k = 0; r == 0 && k < c.L.n_panels; k++)
                r = draw_panel(&c, k);
        if (r < 0)
                return r;
        figure_event_labels(&c);
        x_axis_labels(&c);
        titles(&c);
        if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
                return cairo_status(cr) == CAIRO_STATUS_NO_MEMORY ? -ENOMEM : -EIO;
        if (ret_layout)
                *ret_layout = c.L;
        return 0;
}
