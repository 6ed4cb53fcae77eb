/* SPDX-License-Identifier: MIT */
/* `pamprofctl plot`: default names, companions, no overwriting, exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd-plot.h"

typedef struct Dir {
        char path[256];
} Dir;

static void copy(const char *name, const char *dir, const char *as)
{
        char src[1024], dst[1024], buf[65536];
        int in, out;
        ssize_t k;

        snprintf(src, sizeof(src), "%s/plot/%s", getenv("PAMPROF_FIXTURES"), name);
        snprintf(dst, sizeof(dst), "%s/%s", dir, as ? as : name);
        in = open(src, O_RDONLY | O_CLOEXEC);
        out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(in >= 0 && out >= 0);
        while ((k = read(in, buf, sizeof(buf))) > 0)
                assert_int_equal(write(out, buf, (size_t) k), k);
        close(in);
        close(out);
}

static int setup(void **state)
{
        Dir *d = calloc(1, sizeof(Dir));
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

        snprintf(d->path, sizeof(d->path), "%s/test-plot-cmd.XXXXXX", tmp);
        assert_non_null(mkdtemp(d->path));
        *state = d;
        return 0;
}

static int teardown(void **state)
{
        Dir *d = *state;
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
        assert_int_equal(system(cmd), 0);
        free(d);
        return 0;
}

static int plot(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
{
        char *argv[] = { (char *) "plot", (char *) a0, (char *) a1, (char *) a2,
                         (char *) a3,     (char *) a4, NULL };
        int argc = 1;

        while (argv[argc])
                argc++;
        /* What the command prints goes to stderr: stdout carries the cases' TAP. */
        int saved = dup(STDOUT_FILENO), r;

        fflush(stdout);
        dup2(STDERR_FILENO, STDOUT_FILENO);
        r = cmd_plot(argc, argv);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        return r;
}

static bool exists(const char *dir, const char *name)
{
        char p[1024];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return stat(p, &st) == 0 && st.st_size > 0;
}

static size_t entries(const char *dir)
{
        char cmd[600];
        FILE *f;
        size_t n = 0;
        int c;

        snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
        f = popen(cmd, "r");
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        pclose(f);
        return n;
}

static void test_default_output_and_no_overwrite(void **state)
{
        Dir *d = *state;
        char csv[512];

        copy("pam_mission-execution_20261127_203410_cpu.csv", d->path, NULL);
        copy("pam_mission-execution_20261127_203410_session.json", d->path, NULL);
        copy("pam_mission-execution_20261127_203410_threads.csv", d->path, NULL);
        snprintf(csv, sizeof(csv), "%s/pam_mission-execution_20261127_203410_cpu.csv", d->path);
        assert_int_equal(plot(csv, "--size", "800x450", NULL, NULL), 0);
        assert_true(exists(d->path, "pam_mission-execution_20261127_203410_cpu.png"));
        /* There now: refused, and no temporary file left behind. */
        assert_int_equal(plot(csv, NULL, NULL, NULL, NULL), 1);
        assert_int_equal(entries(d->path), 4);
        assert_int_equal(plot(csv, "--force", "--size=640x360", NULL, NULL), 0);
        assert_int_equal(entries(d->path), 4);
}

static void test_formats_and_json(void **state)
{
        Dir *d = *state;
        char csv[512], svg[512], pdf[512];

        copy("pam_idle-no-leaffc_20260211_143022_cpu.csv", d->path, "seed.csv");
        snprintf(csv, sizeof(csv), "%s/seed.csv", d->path);
        snprintf(svg, sizeof(svg), "%s/out.svg", d->path);
        snprintf(pdf, sizeof(pdf), "%s/out.pdf", d->path);
        assert_int_equal(plot(csv, "-o", svg, "--title", "Seed file"), 0);
        assert_true(exists(d->path, "out.svg"));
        assert_int_equal(plot("--json", csv, "--output", pdf, NULL), 0);
        assert_true(exists(d->path, "out.pdf"));
        assert_int_equal(plot(csv, NULL, NULL, NULL, NULL), 0);
        assert_true(exists(d->path, "seed.png"));
}

static void test_failures(void **state)
{
        Dir *d = *state;
        char csv[512], missing[512], out[512];

        copy("header-only_cpu.csv", d->path, NULL);
        snprintf(csv, sizeof(csv), "%s/header-only_cpu.csv", d->path);
        snprintf(missing, sizeof(missing), "%s/nope_cpu.csv", d->path);
        snprintf(out, sizeof(out), "%s/x.png", d->path);
        /* No data rows: exit 1, and no image, not even a temporary one. */
        assert_int_equal(plot(csv, NULL, NULL, NULL, NULL), 1);
        assert_int_equal(entries(d->path), 1);
        assert_int_equal(plot(missing, NULL, NULL, NULL, NULL), 1);
        /* A directory that is not there. */
        copy("malformed_cpu.csv", d->path, NULL);
        snprintf(csv, sizeof(csv), "%s/malformed_cpu.csv", d->path);
        assert_int_equal(plot(csv, "-o", "/nonexistent-dir/x.png", NULL, NULL), 1);
        /* Malformed rows are skipped with a warning; the image is made. */
        assert_int_equal(plot(csv, "-o", out, NULL, NULL), 0);
        assert_true(exists(d->path, "x.png"));
}

static void test_usage(void **state)
{
        assert_int_equal(plot(NULL, NULL, NULL, NULL, NULL), 2);
        assert_int_equal(plot("a.csv", "b.csv", NULL, NULL, NULL), 2);
        assert_int_equal(plot("a.csv", "--size", "big", NULL, NULL), 2);
        assert_int_equal(plot("a.csv", "--size", "10x10", NULL, NULL), 2);
        assert_int_equal(plot("a.csv", "-o", "a.jpg", NULL, NULL), 2);
        assert_int_equal(plot("a.csv", "--bogus", NULL, NULL, NULL), 2);
        assert_int_equal(plot("a.csv", "-o", NULL, NULL, NULL), 2);
        assert_int_equal(plot("--help", NULL, NULL, NULL, NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_default_output_and_no_overwrite, setup, teardown),
                cmocka_unit_test_setup_teardown(test_formats_and_json, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
                cmocka_unit_test(test_usage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
