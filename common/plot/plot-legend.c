/* SPDX-License-Identifier: MIT */
/* The words on the figure: panel legends, direct labels at the right, event labels. */
#include "plot-figure.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void legend_add(PanelSpec *p, Rgb c, Dash dash, bool filled, const char *fmt, ...) _printf_(5, 6);
static void legend_add(PanelSpec *p, Rgb c, Dash dash, bool filled, const char *fmt, ...)
{
        va_list ap;
        LegendItem *it;

        if (p->n_legend >= MAX_LEGEND)
                return;
        it = &p->legend[p->n_legend++];
        *it = (LegendItem){ .c = c, .dash = dash, .filled = filled };
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

void figure_spec_cpu(Ctx *c)
{
        PanelSpec *p = &c->spec[PLOT_PANEL_CPU];

        *p = (PanelSpec){ .title = "CPU", .axis = "CPU (% of all cores)", .unit = "%", .weight = 1.2 };
        legend_add(p, C_CPU, DASH_SOLID, true, "PAM");
        if (c->prof.ok)
                legend_add(p, C_PROF, DASH_SOLID, false, "%.24s (mean %.2f %%)",
                           c->f->session && c->f->session->profiler ? c->f->session->profiler : "profiler",
                           c->prof.mean);
        legend_add(p, C_CPU, DASH_DOTTED, false, "mean");
        legend_add(p, C_TARGET, DASH_DASHED, false, "idle target");
        note_add(p, c->cpu.mean, C_CPU, "mean", "%");
        note_add(p, PLOT_IDLE_TARGET_PERCENT, C_TARGET, "target", "%");
        p->lo = 0;
        p->hi = fmax(PLOT_IDLE_TARGET_PERCENT * 1.25,
                     fmax(c->cpu.ok ? c->cpu.max : 0, c->prof.ok ? c->prof.max : 0));
}

/* The report's straight line, with its verdict in the report's words. */
static void mem_fit_legend(Ctx *c, PanelSpec *p)
{
        const MemTrend *m = &c->trend;
        char verdict[48];

        if (!isfinite(m->line_mb0))
                return;
        switch (m->shape) {
        case MEM_LEAK:
                snprintf(verdict, sizeof(verdict), "a leak, %s confidence", m->confidence);
                break;
        case MEM_GROWING:
                snprintf(verdict, sizeof(verdict), "growing, not steadily");
                break;
        case MEM_STABLE:
                snprintf(verdict, sizeof(verdict), "stable");
                break;
        default:
                snprintf(verdict, sizeof(verdict), "%s, not a leak", mem_shape_name(m->shape));
                break;
        }
        /* MB/h only where the verdict is a leak (as the report): a line through a warm-up or a few
         * seconds is no growth rate (+28 MB/h for a flat 7 s session, once) */
        if (m->shape == MEM_LEAK)
                legend_add(p, C_TARGET, DASH_DASHED, false, "straight-line fit %+.*f MB/h: %s",
                           fabs(m->slope) >= 100 ? 0 : 1, m->slope, verdict);
        else
                legend_add(p, C_FIT, DASH_DASHED, false, "straight-line fit: %s", verdict);
}

void figure_spec_mem(Ctx *c)
{
        PanelSpec *p = &c->spec[PLOT_PANEL_MEMORY];
        double lo, hi, mid, span;
        size_t n = c->f->cpu->n;
        const float *y = c->f->cpu->mem;

        *p = (PanelSpec){ .title = "Memory", .axis = "RSS (MB)", .unit = "MB", .weight = 1.0 };
        legend_add(p, C_MEM, DASH_SOLID, true, "PAM resident set");
        legend_add(p, C_MEM, DASH_DOTTED, false, "mean");
        mem_fit_legend(c, p);
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
        /* The fitted line's ends too: a warm-up's line leaves the rows at both ends. */
        if (isfinite(c->trend.line_mb0)) {
                double a = mem_trend_line_at(&c->trend, c->trend.t0),
                       b = mem_trend_line_at(&c->trend, c->trend.t1);
                lo = fmin(lo, fmin(a, b));
                hi = fmax(hi, fmax(a, b));
        }
        /* Leaks must show, but a flat 120 MB must not look like a storm: a floor on the span. */
        mid = (lo + hi) / 2;
        span = fmax(hi - lo, fmax(2.0, 0.02 * hi)) * 1.1;
        p->lo = fmax(0, mid - span / 2);
        p->hi = mid + span / 2;
        if (p->lo < 0.15 * p->hi)
                p->lo = 0;
}

void figure_spec_threads(Ctx *c)
{
        PanelSpec *p = &c->spec[PLOT_PANEL_THREADS];
        const PlotThreads *t = c->f->threads;
        double hi = 1;

        *p = (PanelSpec){ .axis = "CPU (% of one core)", .unit = "%", .weight = 1.0 };
        snprintf(p->title, sizeof(p->title), "Threads (busiest %zu of %zu)", t->n_top, t->n_threads);
        for (size_t i = 0; i < t->n_top; i++) {
                char label[80];
                plot_thread_label(&t->top[i], label, sizeof(label));
                legend_add(p, thread_color(i), DASH_SOLID, false, "%s  mean %.1f %%", label, t->top[i].mean);
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
unsigned figure_legend_assign(Ctx *c, const PanelSpec *p, double width, unsigned *row_of, double *row_w)
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

double figure_notes_width(Ctx *c)
{
        double w = 0;

        draw_font(c->cr, 0.85 * c->fs, false);
        for (unsigned k = 0; k < c->L.n_panels; k++)
                for (size_t i = 0; i < c->spec[k].n_notes; i++)
                        w = fmax(w, draw_text_width(c->cr, c->spec[k].notes[i].text));
        return w;
}

Rgb figure_event_color(PlotEventKind k)
{
        switch (k) {
        case PLOT_EVENT_TARGET_EXIT:
                return RGB_HEX(0xdc2626);
        case PLOT_EVENT_TARGET_RETURN:
                return RGB_HEX(0x16a34a);
        case PLOT_EVENT_PROFILER_FAILED:
        case PLOT_EVENT_PROFILER_EARLY:
                return RGB_HEX(0xea580c);
        case PLOT_EVENT_PROFILER_CHUNK:
                return RGB_HEX(0x9ca3af);
        default:
                return C_MUTED;
        }
}

/* Panel title on the left, legend on the right, each row right-aligned. */
void figure_panel_header(Ctx *c, const PlotPanel *pp, const PanelSpec *p)
{
        cairo_t *cr = c->cr;
        double row_h = 1.45 * c->fs, y0 = pp->y - p->header + 0.35 * c->fs + 0.5 * row_h;
        double row_w[MAX_LEGEND], x = 0;
        unsigned row_of[MAX_LEGEND], rows;

        draw_font(cr, c->fs, true);
        draw_set_color(cr, C_TEXT, 1.0);
        draw_text(cr, pp->x, y0 + (p->legend_rows - 1) * row_h, 0, 0.5, p->title);
        rows = figure_legend_assign(c, p, p->legend_w, row_of, row_w);
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

void figure_panel_notes(Ctx *c, const PlotPanel *pp, const PanelSpec *p)
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
void figure_event_labels(Ctx *c)
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
                draw_set_color(cr, figure_event_color(s->events[i].kind), 1.0);
                draw_text_plate(cr, left[i] + 0.2 * c->fs, pp->y + (0.8 + 1.35 * row[i]) * c->fs, 0, 0.5,
                                s->events[i].label, 0.18 * c->fs);
        }
}
