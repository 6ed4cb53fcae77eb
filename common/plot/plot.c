/* SPDX-License-Identifier: MIT */
#include "plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "plot-csv.h"
#include "plot-draw.h"
#include "plot-render.h"
#include "plot-scale.h"
#include "plot-session.h"
#include "plot-threads.h"

/* Threads drawn one by one; the rest are summed. Fewer on small images, where the legend would crowd. */
#define THREADS_TOP(w) ((w) >= 1200 ? 5u : (w) >= 800 ? 4u : 3u)

int plot_format_from_path(const char *path, PlotFormat *ret)
{
        static const struct {
                const char *ext;
                PlotFormat f;
        } table[] = { { ".png", PLOT_FORMAT_PNG },
                      { ".svg", PLOT_FORMAT_SVG },
                      { ".pdf", PLOT_FORMAT_PDF } };
        size_t n = path ? strlen(path) : 0;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (n > 4 && strcasecmp(path + n - 4, table[i].ext) == 0) {
                        *ret = table[i].f;
                        return 0;
                }
        return -EINVAL;
}

typedef struct Sink {
        int fd;
        int error; /* the first write error, as -errno */
} Sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int length)
{
        Sink *s = closure;

        while (length > 0) {
                ssize_t k = write(s->fd, data, length);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        s->error = k < 0 ? negative_errno() : -EIO;
                        return CAIRO_STATUS_WRITE_ERROR;
                }
                data += k;
                length -= (unsigned) k;
        }
        return CAIRO_STATUS_SUCCESS;
}

/* "pam_idle-no-leaffc_20260211_143022_cpu.csv" -> "idle-no-leaffc" (labels have no '_'). */
static void scenario_from_name(const char *name, char *buf, size_t size)
{
        const char *base, *end;

        buf[0] = '\0';
        if (!name)
                return;
        base = strrchr(name, '/');
        base = base ? base + 1 : name;
        if (strncmp(base, "pam_", 4) != 0)
                return;
        base += 4;
        end = strchr(base, '_');
        if (!end || end == base || (size_t) (end - base) >= size)
                return;
        memcpy(buf, base, (size_t) (end - base));
        buf[end - base] = '\0';
}

/* "2026-11-27T20:34:10.123+00:00" -> "2026-11-27 20:34:10 +00:00"; the seed's have no zone. */
static void format_start(const char *iso, char *buf, size_t size)
{
        const char *zone;

        if (!iso || strlen(iso) < 19 || iso[10] != 'T') {
                snprintf(buf, size, "%s", iso ? iso : "");
                return;
        }
        zone = iso + 19;
        while (*zone == '.' || (*zone >= '0' && *zone <= '9'))
                zone++;
        if (*zone == 'Z')
                snprintf(buf, size, "%.10s %.8s UTC", iso, iso + 11);
        else if (*zone == '+' || *zone == '-')
                snprintf(buf, size, "%.10s %.8s %.6s", iso, iso + 11, zone);
        else
                snprintf(buf, size, "%.10s %.8s", iso, iso + 11);
}

static void append(char *buf, size_t size, const char *part)
{
        size_t n = strlen(buf);

        if (!part[0])
                return;
        snprintf(buf + n, size - n, "%s%s", n ? "  ·  " : "", part);
}

static void pid_part(const PlotCpuData *d, const PlotSession *s, char *buf, size_t size)
{
        long first = s && s->pid ? s->pid : 0, last = 0;
        size_t changes = 0;

        for (size_t i = 0; d->pid && i < d->n; i++) {
                if (!d->pid[i])
                        continue;
                if (!first)
                        first = d->pid[i];
                if (last && d->pid[i] != last)
                        changes++;
                last = d->pid[i];
        }
        buf[0] = '\0';
        if (!first)
                return;
        if (last && last != first)
                snprintf(buf, size, "PAM pid %ld → %ld (%zu change%s)", first, last, changes ? changes : 1,
                         changes > 1 ? "s" : "");
        else
                snprintf(buf, size, "PAM pid %ld", first);
}

/* 86340 -> "86,340". */
static void format_count(size_t n, char *buf, size_t size)
{
        char digits[32];
        size_t len, k = 0;

        len = (size_t) snprintf(digits, sizeof(digits), "%zu", n);
        for (size_t i = 0; i < len && k + 2 < size; i++) {
                if (i > 0 && (len - i) % 3 == 0)
                        buf[k++] = ',';
                buf[k++] = digits[i];
        }
        buf[k] = '\0';
}

static void derive_titles(const PlotCpuData *d, const PlotSession *s, const PlotOptions *o, double gap,
                          char *title, size_t tsize, char *sub, size_t ssize)
{
        char scen[72] = "", part[96], span[32], count[32];
        double interval = gap / 1.75, dur = d->elapsed[d->n - 1] - d->elapsed[0];

        if (s && s->scenario)
                snprintf(scen, sizeof(scen), "%s", s->scenario);
        else
                scenario_from_name(o->source_name, scen, sizeof(scen));
        if (o->title)
                snprintf(title, tsize, "%s", o->title);
        else if (scen[0])
                snprintf(title, tsize, "PAM CPU and memory: %s", scen);
        else
                snprintf(title, tsize, "PAM CPU and memory");
        sub[0] = '\0';
        format_start(s && s->started_at ? s->started_at : d->first_timestamp, part, sizeof(part));
        append(sub, ssize, part);
        if (s && isfinite(s->duration) && s->duration > dur)
                dur = s->duration;
        if (isfinite(o->duration) && o->duration > dur)
                dur = o->duration;
        format_span(dur, span, sizeof(span));
        append(sub, ssize, span);
        pid_part(d, s, part, sizeof(part));
        append(sub, ssize, part);
        format_count(d->n, count, sizeof(count));
        if (interval > 0) {
                format_span(interval, span, sizeof(span));
                snprintf(part, sizeof(part), "%s samples every %s", count, span);
        } else
                snprintf(part, sizeof(part), "%s sample%s", count, d->n == 1 ? "" : "s");
        append(sub, ssize, part);
        plot_session_coverage_text(s, part, sizeof(part));
        append(sub, ssize, part);
}

static bool any_finite(const float *y, size_t n)
{
        for (size_t i = 0; y && i < n; i++)
                if (isfinite(y[i]))
                        return true;
        return false;
}

static int read_cpu(int fd, const char *what, PlotCpuData *d, PlotStats *st, char **ret_error)
{
        FILE *f;
        int dfd, r;

        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return plot_error(ret_error, negative_errno(), "Could not read %s: %s.", what,
                                  strerror(errno));
        f = fdopen(dfd, "r");
        if (!f) {
                r = negative_errno();
                close(dfd);
                return plot_error(ret_error, r, "Could not read %s: %s.", what, strerror(-r));
        }
        r = plot_cpu_read(f, what, d, ret_error);
        fclose(f);
        if (r < 0)
                return r;
        st->rows = d->n;
        st->skipped = d->skipped;
        st->first_skipped_line = d->first_skipped_line;
        snprintf(st->first_skip_reason, sizeof(st->first_skip_reason), "%s", d->first_skip_reason);
        if (d->n == 0 && d->skipped > 0)
                return plot_error(ret_error, -ENODATA,
                                  "%s has no usable data rows: all %zu were malformed (line %lu: %s).", what,
                                  d->skipped, d->first_skipped_line, d->first_skip_reason);
        if (d->n == 0)
                return plot_error(ret_error, -ENODATA, "%s has no data rows.", what);
        if (!any_finite(d->cpu, d->n) && !any_finite(d->mem, d->n))
                return plot_error(ret_error, -ENODATA, "%s has no measured CPU or memory values.", what);
        return 0;
}

static void warn(PlotStats *st, const char *what, const char *why)
{
        size_t n = strlen(st->warning);

        snprintf(st->warning + n, sizeof(st->warning) - n, "%s%s left out: %s", n ? "; " : "", what,
                 why ? why : "unreadable");
}

static cairo_surface_t *make_surface(PlotFormat fmt, unsigned w, unsigned h, Sink *sink)
{
        switch (fmt) {
        case PLOT_FORMAT_SVG:
                return cairo_svg_surface_create_for_stream(sink_write, sink, w, h);
        case PLOT_FORMAT_PDF:
                return cairo_pdf_surface_create_for_stream(sink_write, sink, w, h);
        default:
                /* No alpha: the figure is opaque, and RGB24 makes a smaller PNG. */
                return cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int) w, (int) h);
        }
}

static int cairo_errno(cairo_status_t s, const Sink *sink)
{
        if (s == CAIRO_STATUS_SUCCESS)
                return 0;
        if (s == CAIRO_STATUS_WRITE_ERROR && sink->error < 0)
                return sink->error;
        return s == CAIRO_STATUS_NO_MEMORY ? -ENOMEM : -EIO;
}

static int render(const PlotFigure *fig, const PlotOptions *o, unsigned w, unsigned h, int out_fd,
                  char **ret_error)
{
        Sink sink = { .fd = out_fd };
        cairo_surface_t *surface = make_surface(o->format, w, h, &sink);
        cairo_t *cr = cairo_create(surface);
        int r;

        r = cairo_errno(cairo_status(cr), &sink);
        if (r == 0) {
                r = plot_draw(cr, w, h, fig, NULL);
                if (r == -ERANGE)
                        plot_error(ret_error, -EINVAL, "%ux%u is too small for the figure.", w, h);
        }
        cairo_destroy(cr);
        if (r == 0 && o->format == PLOT_FORMAT_PNG)
                r = cairo_errno(cairo_surface_write_to_png_stream(surface, sink_write, &sink), &sink);
        cairo_surface_finish(surface);
        if (r == 0)
                r = cairo_errno(cairo_surface_status(surface), &sink);
        cairo_surface_destroy(surface);
        if (r < 0 && ret_error && !*ret_error)
                plot_error(ret_error, r, "Could not draw or write the image: %s.", strerror(-r));
        return r == -ERANGE ? -EINVAL : r;
}

int plot_render_fd(int csv_fd, int session_fd, int threads_fd, int out_fd, const PlotOptions *o,
                   PlotStats *ret_stats, char **ret_error)
{
        _cleanup_(plot_cpu_done) PlotCpuData cpu = { 0 };
        _cleanup_(plot_session_done) PlotSession session = { 0 };
        _cleanup_(plot_threads_done) PlotThreads threads = { 0 };
        _cleanup_free_ char *why = NULL;
        const char *what = o && o->source_name ? o->source_name : "The CSV";
        PlotOptions opts = o ? *o : (PlotOptions){ 0 };
        PlotStats st = { 0 };
        PlotFigure fig = { 0 };
        char title[256], sub[256], warning[300];
        unsigned w, h;
        int r;

        w = opts.width ? opts.width : PLOT_DEFAULT_WIDTH;
        h = opts.height ? opts.height : PLOT_DEFAULT_HEIGHT;
        if (w < PLOT_SIZE_MIN || h < PLOT_SIZE_MIN || w > PLOT_SIZE_MAX || h > PLOT_SIZE_MAX)
                return plot_error(ret_error, -EINVAL,
                                  "An image of %ux%u is not possible: each side must be %u to %u.", w, h,
                                  PLOT_SIZE_MIN, PLOT_SIZE_MAX);
        if (csv_fd < 0 || out_fd < 0)
                return plot_error(ret_error, -EBADF, "No CSV or no output to work with.");
        r = read_cpu(csv_fd, what, &cpu, &st, ret_error);
        if (r < 0)
                goto out;
        fig.cpu = &cpu;
        if (session_fd >= 0) {
                if (plot_session_read(session_fd, &session, &why) == 0) {
                        fig.session = &session;
                        st.events = session.n_events;
                } else
                        warn(&st, "the session file", why);
        }
        r = scale_gap_threshold(cpu.elapsed, cpu.n, &fig.gap);
        if (r < 0)
                goto out;
        plot_time_range(&cpu, fig.session, &fig.x0, &fig.x1);
        if (threads_fd >= 0) {
                free(TAKE_PTR(why));
                if (plot_threads_read(threads_fd, fig.x0, fig.x1, w, fig.gap, THREADS_TOP(w), &threads,
                                      &why) == 0) {
                        st.thread_rows = threads.rows;
                        st.thread_skipped = threads.skipped;
                        if (threads.n_top > 0)
                                fig.threads = &threads;
                        else
                                warn(&st, "the thread panel", "no thread used any CPU");
                } else
                        warn(&st, "the thread panel", why);
        }
        derive_titles(&cpu, fig.session, &opts, fig.gap, title, sizeof(title), sub, sizeof(sub));
        fig.title = title;
        fig.subtitle = sub;
        if (fig.session && fig.session->coverage_warning && fig.session->coverage_warning[0]) {
                snprintf(warning, sizeof(warning), "Warning: %s.", fig.session->coverage_warning);
                fig.warning = warning;
        }
        r = render(&fig, &opts, w, h, out_fd, ret_error);
out:
        if (ret_stats)
                *ret_stats = st;
        return r;
}
