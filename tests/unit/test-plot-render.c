/* SPDX-License-Identifier: MIT */
/*
 * The rendered figure, read back as pixels: a known value lands on the
 * expected row, background and axes are where they belong, gaps stay
 * empty, the size is as asked, each format is what it says; and one golden
 * image, compared with a tolerance (PAMPROF_UPDATE_GOLDEN=1 rewrites it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cairo.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem-trend.h"
#include "plot-render.h"
#include "plot.h"

typedef struct Px {
        int r, g, b;
} Px;

static Px pixel(cairo_surface_t *s, int x, int y)
{
        const unsigned char *d = cairo_image_surface_get_data(s);
        uint32_t v =
                *(const uint32_t *) (d + (size_t) y * cairo_image_surface_get_stride(s) + (size_t) x * 4);

        return (Px){ (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
}

static bool is_white(Px p)
{
        return p.r > 250 && p.g > 250 && p.b > 250;
}

/* The CPU line's blue (0x2563eb), allowing for antialiasing. */
static bool is_cpu_blue(Px p)
{
        return p.b > 180 && p.r < 120 && p.b - p.r > 100;
}

static bool is_dark(Px p)
{
        return p.r + p.g + p.b < 3 * 130;
}

/* n rows from 0 s at 1 s; cpu and memory constant; rows in [gap_from, gap_to) left out. */
static void make_data(PlotCpuData *d, size_t n, float cpu, float mem, size_t gap_from, size_t gap_to)
{
        *d = (PlotCpuData){ .has_cpu = true, .has_mem = true };
        d->elapsed = calloc(n, sizeof(double));
        d->cpu = calloc(n, sizeof(float));
        d->mem = calloc(n, sizeof(float));
        assert_non_null(d->elapsed);
        for (size_t i = 0; i < n; i++) {
                if (i >= gap_from && i < gap_to)
                        continue;
                d->elapsed[d->n] = (double) i;
                d->cpu[d->n] = cpu;
                d->mem[d->n] = mem;
                d->n++;
        }
        d->cap = n;
}

static cairo_surface_t *draw(const PlotCpuData *d, int w, int h, PlotLayout *L)
{
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
        cairo_t *cr = cairo_create(s);
        PlotFigure f = { .cpu = d, .title = "test", .subtitle = "sub" };

        assert_int_equal(scale_gap_threshold(d->elapsed, d->n, &f.gap), 0);
        plot_time_range(d, NULL, &f.x0, &f.x1);
        assert_int_equal(plot_draw(cr, (unsigned) w, (unsigned) h, &f, L), 0);
        assert_int_equal(cairo_status(cr), CAIRO_STATUS_SUCCESS);
        cairo_destroy(cr);
        cairo_surface_flush(s);
        return s;
}

/* A profile that covers too little: its warning is a red line under the subtitle, above the panels. */
static void test_coverage_warning_line(void **state)
{
        PlotCpuData d;
        PlotLayout plain, warned;
        cairo_surface_t *a, *b;
        PlotFigure f;
        cairo_t *cr;
        int red = 0, red_plain = 0;

        make_data(&d, 31, 20.0f, 100.0f, 0, 0);
        a = draw(&d, 1200, 700, &plain);
        b = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1200, 700);
        cr = cairo_create(b);
        f = (PlotFigure){
                .cpu = &d,
                .title = "test",
                .subtitle = "sub",
                .warning = "Warning: profile covers 41 % of the session (4.9 of 12.0 s): Austin stopped "
                           "early 3 times and was restarted; see journalctl -u pamprofd."
        };
        assert_int_equal(scale_gap_threshold(d.elapsed, d.n, &f.gap), 0);
        plot_time_range(&d, NULL, &f.x0, &f.x1);
        assert_int_equal(plot_draw(cr, 1200, 700, &f, &warned), 0);
        cairo_destroy(cr);
        cairo_surface_flush(b);
        /* Room was made for the line: the panels start lower by about a line. */
        assert_true(warned.panel[0].y > plain.panel[0].y + 0.8 * warned.font);
        assert_true(warned.panel[0].y < plain.panel[0].y + 2.5 * warned.font);
        /* Red text (0xdc2626) between the subtitle and the first panel's header, and none without it. */
        for (int y = (int) (plain.panel[0].y - 3.5 * plain.font);
             y < (int) (warned.panel[0].y - 2.2 * warned.font); y++)
                for (int x = (int) warned.panel[0].x; x < (int) (warned.panel[0].x + 500); x++) {
                        Px p = pixel(b, x, y), q = pixel(a, x, y);
                        red += p.r > 180 && p.g < 110 && p.b < 110;
                        red_plain += q.r > 180 && q.g < 110 && q.b < 110;
                }
        assert_true(red > 200);
        assert_int_equal(red_plain, 0);
        plot_cpu_done(&d);
        cairo_surface_destroy(a);
        cairo_surface_destroy(b);
}

static void test_value_lands_on_its_row(void **state)
{
        PlotCpuData d;
        PlotLayout L;
        cairo_surface_t *s;
        const PlotPanel *cpu;
        int row, hits = 0;

        make_data(&d, 61, 50.0f, 100.0f, 0, 0);
        s = draw(&d, 1000, 600, &L);
        cpu = &L.panel[PLOT_PANEL_CPU];
        /* 50 % with 5 % headroom is 52.5: the 1-2-5 axis goes to 60 in steps of 10. */
        assert_float_equal(cpu->yticks.lo, 0, 0);
        assert_float_equal(cpu->yticks.hi, 60, 1e-9);
        assert_float_equal(cpu->yticks.step, 10, 1e-9);
        /* Worked out from the panel's edges alone: 50 of 60 up from the bottom. */
        row = (int) floor(cpu->y + cpu->h * (1.0 - 50.0 / 60.0));
        for (int x = (int) (cpu->x + cpu->w * 0.3); x < cpu->x + cpu->w * 0.7; x += 7) {
                bool near = false;
                for (int dy = -1; dy <= 1; dy++)
                        near |= is_cpu_blue(pixel(s, x, row + dy));
                hits += near;
                /* Nothing blue well above the line (57 %); under it is the light fill. */
                assert_false(is_cpu_blue(pixel(s, x, (int) (cpu->y + cpu->h * (1.0 - 57.0 / 60.0)))));
        }
        assert_true(hits >= 15);
        plot_cpu_done(&d);
        cairo_surface_destroy(s);
}

static void test_background_and_axes(void **state)
{
        PlotCpuData d;
        PlotLayout L;
        cairo_surface_t *s;

        make_data(&d, 61, 2.0f, 100.0f, 0, 0);
        s = draw(&d, 800, 450, &L);
        assert_int_equal(cairo_image_surface_get_width(s), 800);
        assert_int_equal(cairo_image_surface_get_height(s), 450);
        /* White corners: nothing drawn off the figure. */
        assert_true(is_white(pixel(s, 0, 0)));
        assert_true(is_white(pixel(s, 799, 0)));
        assert_true(is_white(pixel(s, 0, 449)));
        assert_true(is_white(pixel(s, 799, 449)));
        /* Panels inside the image, CPU above memory, sharing x. */
        assert_int_equal(L.n_panels, 2);
        assert_true(L.panel[0].x > 20 && L.panel[0].x + L.panel[0].w < 800);
        assert_true(L.panel[0].y + L.panel[0].h < L.panel[1].y);
        assert_float_equal(L.panel[0].x, L.panel[1].x, 0);
        assert_true(L.panel[1].y + L.panel[1].h < 450);
        /* The y axis is a dark rule down the panel's left edge; the x axis along its bottom. */
        for (unsigned k = 0; k < L.n_panels; k++) {
                const PlotPanel *p = &L.panel[k];
                int ax = (int) floor(p->x), by = (int) floor(p->y + p->h);
                for (int y = (int) p->y + 2; y < p->y + p->h - 2; y += 5)
                        assert_true(is_dark(pixel(s, ax, y)));
                for (int x = (int) p->x + 2; x < p->x + p->w - 2; x += 9)
                        assert_true(is_dark(pixel(s, x, by)));
                /* Left of the axis, between tick labels and the panel, is background. */
                assert_true(is_white(
                        pixel(s, ax - 2, (int) (p->y + p->h * 0.5 + 0.5 * p->h / p->yticks.count))));
        }
        /* The time axis: 0..60 s in clock steps, 5 s at this width. */
        assert_int_equal(L.xticks.unit, TIME_UNIT_S);
        assert_float_equal(L.xticks.ticks.step, 5, 1e-9);
        assert_float_equal(L.xticks.ticks.values[L.xticks.ticks.count - 1], 60, 1e-9);
        plot_cpu_done(&d);
        cairo_surface_destroy(s);
}

static void test_gap_is_drawn_as_gap(void **state)
{
        PlotCpuData d;
        PlotLayout L;
        cairo_surface_t *s;
        const PlotPanel *cpu;
        int row, x_gap, x_data;

        make_data(&d, 101, 50.0f, 100.0f, 40, 70); /* PAM absent from 40 s to 70 s */
        s = draw(&d, 1000, 600, &L);
        cpu = &L.panel[PLOT_PANEL_CPU];
        row = (int) floor(scale_map(&cpu->ys, 50));
        x_gap = (int) scale_map(&L.xs, 55);
        x_data = (int) scale_map(&L.xs, 20);
        for (int dy = -2; dy <= 2; dy++)
                assert_false(is_cpu_blue(pixel(s, x_gap, row + dy)));
        assert_true(is_cpu_blue(pixel(s, x_data, row)) || is_cpu_blue(pixel(s, x_data, row + 1)) ||
                    is_cpu_blue(pixel(s, x_data, row - 1)));
        /* The band is a light grey, not white, low in the panel where nothing else is. */
        {
                Px p = pixel(s, x_gap + 3, (int) (cpu->y + cpu->h * 0.5));
                assert_false(is_white(p));
                assert_true(p.r > 200 && abs(p.r - p.b) < 20);
        }
        plot_cpu_done(&d);
        cairo_surface_destroy(s);
}

static char *fixture(const char *name)
{
        char *p;

        assert_non_null(getenv("PAMPROF_FIXTURES"));
        assert_true(asprintf(&p, "%s/plot/%s", getenv("PAMPROF_FIXTURES"), name) > 0);
        return p;
}

static int open_fixture(const char *name)
{
        char *p = fixture(name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);

        free(p);
        return fd;
}

typedef struct Reader {
        const unsigned char *p;
        size_t left;
} Reader;

static cairo_status_t read_mem(void *closure, unsigned char *data, unsigned int length)
{
        Reader *r = closure;

        if (length > r->left)
                return CAIRO_STATUS_READ_ERROR;
        memcpy(data, r->p, length);
        r->p += length;
        r->left -= length;
        return CAIRO_STATUS_SUCCESS;
}

/* Renders a fixture into a memfd; returns the fd (at offset 0) and the result code. */
static int render_fixture(const char *csv, const char *session, const char *threads, const PlotOptions *o,
                          int *ret_fd, PlotStats *st, char **err)
{
        int c = open_fixture(csv), s = session ? open_fixture(session) : -1,
            t = threads ? open_fixture(threads) : -1;
        int out = memfd_create("plot", MFD_CLOEXEC), r;

        assert_true(c >= 0 && out >= 0);
        r = plot_render_fd(c, s, t, out, o, st, err);
        close(c);
        if (s >= 0)
                close(s);
        if (t >= 0)
                close(t);
        lseek(out, 0, SEEK_SET);
        *ret_fd = out;
        return r;
}

static cairo_surface_t *png_from_fd(int fd)
{
        off_t size = lseek(fd, 0, SEEK_END);
        void *map = mmap(NULL, (size_t) size, PROT_READ, MAP_PRIVATE, fd, 0);
        Reader r = { map, (size_t) size };
        cairo_surface_t *s;

        assert_true(map != MAP_FAILED);
        s = cairo_image_surface_create_from_png_stream(read_mem, &r);
        munmap(map, (size_t) size);
        assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
        return s;
}

static void test_png_size_as_asked(void **state)
{
        PlotOptions o = { .width = 1000, .height = 640 };
        PlotStats st;
        cairo_surface_t *s;
        int fd;

        assert_int_equal(
                render_fixture("pam_idle-no-leaffc_20260211_143022_cpu.csv", NULL, NULL, &o, &fd, &st, NULL),
                0);
        assert_int_equal(st.rows, 150);
        s = png_from_fd(fd);
        assert_int_equal(cairo_image_surface_get_width(s), 1000);
        assert_int_equal(cairo_image_surface_get_height(s), 640);
        cairo_surface_destroy(s);
        close(fd);
        /* The default is 1600x900. */
        o = (PlotOptions){ 0 };
        assert_int_equal(
                render_fixture("pam_idle-no-leaffc_20260211_143022_cpu.csv", NULL, NULL, &o, &fd, &st, NULL),
                0);
        s = png_from_fd(fd);
        assert_int_equal(cairo_image_surface_get_width(s), 1600);
        assert_int_equal(cairo_image_surface_get_height(s), 900);
        cairo_surface_destroy(s);
        close(fd);
}

static void test_svg_and_pdf(void **state)
{
        PlotOptions o = { .format = PLOT_FORMAT_SVG };
        char head[512] = "";
        int fd;

        assert_int_equal(render_fixture("pam_mission-execution_20261127_203410_cpu.csv",
                                        "pam_mission-execution_20261127_203410_session.json",
                                        "pam_mission-execution_20261127_203410_threads.csv", &o, &fd, NULL,
                                        NULL),
                         0);
        assert_true(read(fd, head, sizeof(head) - 1) > 0);
        assert_non_null(strstr(head, "<svg"));
        assert_non_null(strstr(head, "width=\"1600pt\""));
        close(fd);
        o.format = PLOT_FORMAT_PDF;
        assert_int_equal(render_fixture("pam_idle-no-leaffc_20260211_143022_cpu.csv", NULL, NULL, &o, &fd,
                                        NULL, NULL),
                         0);
        memset(head, 0, sizeof(head));
        assert_true(read(fd, head, 8) == 8);
        assert_memory_equal(head, "%PDF-", 5);
        close(fd);
        {
                PlotFormat f;
                assert_int_equal(plot_format_from_path("x/a.SVG", &f), 0);
                assert_int_equal(f, PLOT_FORMAT_SVG);
                assert_int_equal(plot_format_from_path("a.pdf", &f), 0);
                assert_int_equal(f, PLOT_FORMAT_PDF);
                assert_int_equal(plot_format_from_path("a.jpg", &f), -EINVAL);
                assert_int_equal(plot_format_from_path(".png", &f), -EINVAL);
        }
}

static void test_errors(void **state)
{
        PlotOptions o = { .source_name = "header-only_cpu.csv" };
        PlotStats st;
        char *err = NULL;
        int fd;

        assert_int_equal(render_fixture("header-only_cpu.csv", NULL, NULL, &o, &fd, &st, &err), -ENODATA);
        assert_string_equal(err, "header-only_cpu.csv has no data rows.");
        assert_int_equal(lseek(fd, 0, SEEK_END), 0); /* nothing written */
        close(fd);
        free(TAKE_PTR(err));
        o = (PlotOptions){ .width = 100, .height = 100 };
        assert_int_equal(
                render_fixture("pam_idle-no-leaffc_20260211_143022_cpu.csv", NULL, NULL, &o, &fd, &st, &err),
                -EINVAL);
        assert_non_null(err);
        close(fd);
        free(TAKE_PTR(err));
        /* A session file that is not JSON, or a threads file that is not ours: drawn without, and said. */
        o = (PlotOptions){ 0 };
        assert_int_equal(render_fixture("malformed_cpu.csv", "malformed_cpu.csv",
                                        "pam_idle-no-leaffc_20260211_143022_cpu.csv", &o, &fd, &st, &err),
                         0);
        assert_int_equal(st.rows, 5);
        assert_int_equal(st.skipped, 7);
        assert_non_null(strstr(st.warning, "the session file left out"));
        assert_non_null(strstr(st.warning, "the thread panel left out"));
        close(fd);
        assert_null(err);
}

static void test_edge_data(void **state)
{
        PlotCpuData d;
        PlotLayout L;
        cairo_surface_t *s;

        /* One row: drawn as a dot, the time axis is a short span from zero. */
        make_data(&d, 1, 3.5f, 120.0f, 0, 0);
        s = draw(&d, 800, 450, &L);
        assert_true(L.xs.d0 >= 0 && L.xs.d1 > L.xs.d0);
        plot_cpu_done(&d);
        cairo_surface_destroy(s);
        /* Huge values. */
        make_data(&d, 30, 3e30f, 3e30f, 0, 0);
        s = draw(&d, 800, 450, &L);
        assert_true(L.panel[0].yticks.hi >= 3e30);
        plot_cpu_done(&d);
        cairo_surface_destroy(s);
        /* Zeros everywhere. */
        make_data(&d, 30, 0, 0, 0, 0);
        s = draw(&d, 800, 450, &L);
        plot_cpu_done(&d);
        cairo_surface_destroy(s);
}

/* The idle target's red (0xdc2626), which a leak's fitted line is drawn in. */
static bool is_red(Px p)
{
        return p.r > 170 && p.g < 110 && p.b < 110;
}

/* The fit's grey (0x374151) for any other shape: no colour cast, unlike the memory's teal. */
static bool is_grey(Px p)
{
        return p.r < 100 && abs(p.r - p.g) < 25 && abs(p.g - p.b) < 30 && abs(p.r - p.b) < 40;
}

/* Of the x positions across the share [a, b] of the rows' time, how many have a pixel of the colour
 * within 2 px of the fitted line there. */
static int fit_hits(cairo_surface_t *s, const PlotLayout *L, const MemTrend *m, bool (*is)(Px), double a,
                    double b, int *ret_tried)
{
        const PlotPanel *mem = &L->panel[PLOT_PANEL_MEMORY];
        double span = m->t1 - m->t0;
        int hits = 0, tried = 0;

        for (double t = m->t0 + a * span; t <= m->t0 + b * span; t += 0.5) {
                int x = (int) round(scale_map(&L->xs, t)),
                    y = (int) round(scale_map(&mem->ys, mem_trend_line_at(m, t)));
                bool near = false;

                for (int dy = -2; dy <= 2; dy++)
                        near |= is(pixel(s, x, y + dy));
                hits += near;
                tried++;
        }
        *ret_tried = tried;
        return hits;
}

/* The memory panel draws the straight line the report judges memory by: red over a leak, grey over a
 * warm-up (where it parts from the rows), along the rows judged. */
static void test_memory_fit_line(void **state)
{
        PlotCpuData d;
        PlotLayout L;
        MemTrend m;
        cairo_surface_t *s;
        int hits, tried;

        /* A leak: 1 MB a second for a minute, a little scatter. */
        make_data(&d, 61, 2.0f, 0, 0, 0);
        for (size_t i = 0; i < d.n; i++)
                d.mem[i] = (float) (40.0 + (double) i + 0.05 * (double) (i % 3));
        mem_trend_judge(d.elapsed, d.mem, NULL, d.n, &m);
        assert_int_equal(m.shape, MEM_LEAK);
        s = draw(&d, 1000, 600, &L);
        hits = fit_hits(s, &L, &m, is_red, 0.02, 0.98, &tried);
        /* Dashed: about half its length is ink. */
        assert_true(hits >= tried / 3);
        /* (Short of the end, where the "max" label's dark text is.) */
        assert_int_equal(fit_hits(s, &L, &m, is_grey, 0.02, 0.7, &tried), 0);
        plot_cpu_done(&d);
        cairo_surface_destroy(s);

        /* A warm-up: +10 MB over the first 15 s, then flat. The line is the fit's, not the rows'. */
        make_data(&d, 61, 2.0f, 0, 0, 0);
        for (size_t i = 0; i < d.n; i++)
                d.mem[i] = (float) (40.0 + 10.0 * fmin((double) i, 15.0) / 15.0);
        mem_trend_judge(d.elapsed, d.mem, NULL, d.n, &m);
        assert_int_equal(m.shape, MEM_WARMUP);
        s = draw(&d, 1000, 600, &L);
        hits = fit_hits(s, &L, &m, is_grey, 0.02, 0.98, &tried);
        assert_true(hits >= tried / 3);
        assert_int_equal(fit_hits(s, &L, &m, is_red, 0.02, 0.98, &tried), 0);
        /* Where it parts from the rows (the last seconds: the rows flat at 50, the line above), the
         * line is there and the rows are not. */
        {
                const PlotPanel *mem = &L.panel[PLOT_PANEL_MEMORY];
                double t = m.t1 - 3;
                assert_true(mem_trend_line_at(&m, t) > 50.5);
                assert_true(fit_hits(s, &L, &m, is_grey, 0.9, 0.98, &tried) > 0);
                assert_false(is_grey(
                        pixel(s, (int) round(scale_map(&L.xs, t)), (int) round(scale_map(&mem->ys, 50.0)))));
        }
        plot_cpu_done(&d);
        cairo_surface_destroy(s);

        /* Too few rows to judge: no line, no legend for one. */
        make_data(&d, 5, 2.0f, 40.0f, 0, 0);
        mem_trend_judge(d.elapsed, d.mem, NULL, d.n, &m);
        assert_int_equal(m.shape, MEM_TOO_SHORT);
        assert_true(isnan(mem_trend_line_at(&m, 2.0)));
        s = draw(&d, 1000, 600, &L);
        plot_cpu_done(&d);
        cairo_surface_destroy(s);
}

/* Golden: the mission fixture at 800x450, text and all. */
static void test_golden(void **state)
{
        PlotOptions o = { .width = 800,
                          .height = 450,
                          .source_name = "pam_mission-execution_20261127_203410_cpu.csv" };
        char *golden = fixture("golden-mission-800x450.png");
        cairo_surface_t *got, *want;
        long off = 0;
        double sum = 0;
        int fd;

        assert_int_equal(render_fixture("pam_mission-execution_20261127_203410_cpu.csv",
                                        "pam_mission-execution_20261127_203410_session.json",
                                        "pam_mission-execution_20261127_203410_threads.csv", &o, &fd, NULL,
                                        NULL),
                         0);
        got = png_from_fd(fd);
        close(fd);
        if (getenv("PAMPROF_UPDATE_GOLDEN")) {
                assert_int_equal(cairo_surface_write_to_png(got, golden), CAIRO_STATUS_SUCCESS);
                cairo_surface_destroy(got);
                free(golden);
                skip();
        }
        want = cairo_image_surface_create_from_png(golden);
        assert_int_equal(cairo_surface_status(want), CAIRO_STATUS_SUCCESS);
        assert_int_equal(cairo_image_surface_get_width(want), 800);
        assert_int_equal(cairo_image_surface_get_height(want), 450);
        for (int y = 0; y < 450; y++)
                for (int x = 0; x < 800; x++) {
                        Px a = pixel(got, x, y), b = pixel(want, x, y);
                        int dmax = abs(a.r - b.r);
                        dmax = abs(a.g - b.g) > dmax ? abs(a.g - b.g) : dmax;
                        dmax = abs(a.b - b.b) > dmax ? abs(a.b - b.b) : dmax;
                        sum += dmax;
                        off += dmax > 64;
                }
        /* Room for another FreeType's antialiasing, none for a moved line or panel. */
        print_message("# golden: %ld of 360000 pixels differ by more than 64, mean difference %.3f\n", off,
                      sum / 360000);
        assert_true(off < 360000 / 200);
        assert_true(sum / 360000 < 1.5);
        cairo_surface_destroy(got);
        cairo_surface_destroy(want);
        free(golden);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_value_lands_on_its_row),
                cmocka_unit_test(test_coverage_warning_line),
                cmocka_unit_test(test_background_and_axes),
                cmocka_unit_test(test_gap_is_drawn_as_gap),
                cmocka_unit_test(test_png_size_as_asked),
                cmocka_unit_test(test_svg_and_pdf),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_edge_data),
                cmocka_unit_test(test_memory_fit_line),
                cmocka_unit_test(test_golden),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
