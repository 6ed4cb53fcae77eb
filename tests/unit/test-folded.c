/* SPDX-License-Identifier: MIT */
/*
 * Speedscope to folded stacks (common/profile/folded.h), the text Pyroscope's /ingest takes: the
 * thread as the root frame, one line a stack with its integer count, the totals per thread and
 * per stack those of the file; idle stacks left out when asked, and counted; hostile names
 * unable to add a frame or a line; no line over 64 KiB however deep the stack or long the name.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "folded.h"
#include "speedscope-read.h"

#define HEAD "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","

static SsModel *read_model(const char *text)
{
        SsModel *m = NULL;
        char *error = NULL;

        if (ss_read_mem(text, strlen(text), &m, &error) < 0)
                fail_msg("not read: %s", error ? error : "?");
        return m;
}

/* The folded text of m, NUL-terminated. */
static char *fold(const SsModel *m, FoldedSkipFunc skip, FoldedStats *st)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        assert_int_equal(folded_write(m, skip, NULL, f, st), 0);
        fclose(f);
        assert_int_equal(st->bytes, len);
        return text;
}

static const char two_threads[] =
        HEAD "\"profiles\":["
             "{\"type\":\"sampled\",\"name\":\"Thread 11 \\\"MainThread\\\"\",\"unit\":\"seconds\","
             "\"samples\":[[0,1],[0,1],[0,2],[0]],\"weights\":[0.01,0.01,0.01,0.01]},"
             "{\"type\":\"sampled\",\"name\":\"Thread 12 \\\"worker\\\"\",\"unit\":\"seconds\","
             "\"samples\":[[3],[3],[3]],\"weights\":[0.01,0.01,0.01]}],"
             "\"shared\":{\"frames\":[{\"name\":\"main\",\"file\":\"app.py\",\"line\":3},"
             "{\"name\":\"work\",\"file\":\"app.py\",\"line\":9},"
             "{\"name\":\"wait\",\"file\":\"/usr/lib/python3.11/threading.py\",\"line\":320},"
             "{\"name\":\"<native>\"}]}}\n";

static void test_lines_and_totals(void **state)
{
        SsModel *m = read_model(two_threads);
        FoldedStats st;
        char *text = fold(m, NULL, &st);

        assert_string_equal(text,
                            "MainThread;main (app.py:3) 1\n"
                            "MainThread;main (app.py:3);work (app.py:9) 2\n"
                            "MainThread;main (app.py:3);wait (/usr/lib/python3.11/threading.py:320) 1\n"
                            "worker;<native> 3\n");
        assert_int_equal(st.lines, 4);
        assert_int_equal(st.samples, 7);
        assert_int_equal(st.samples, m->n_samples); /* every sample, once */
        assert_int_equal(st.skipped + st.cut_stacks, 0);
        free(text);
        ss_model_free(m);
}

/* The test's idea of idle: a stack that ends in threading.py's wait. */
static bool ends_waiting(const SsModel *m, uint32_t node, void *userdata)
{
        const SsFrame *f = ss_node_frame(m, node);
        return f && strcmp(f->name, "wait") == 0;
}

static void test_idle_left_out_and_counted(void **state)
{
        SsModel *m = read_model(two_threads);
        FoldedStats st;
        char *text = fold(m, ends_waiting, &st);

        assert_null(strstr(text, "wait"));
        assert_int_equal(st.lines, 3);
        assert_int_equal(st.samples, 6);
        assert_int_equal(st.skipped, 1);
        assert_int_equal(st.skipped_stacks, 1);
        assert_int_equal(st.samples + st.skipped, m->n_samples);
        free(text);
        ss_model_free(m);
}

/* PAM names its threads and functions: a ';' would add a frame, a newline a line. */
static void test_hostile_names(void **state)
{
        SsModel *m = read_model(HEAD "\"profiles\":[{\"type\":\"sampled\","
                                     "\"name\":\"Thread 1 \\\"a;b\\nc 99\\\"\",\"unit\":\"seconds\","
                                     "\"samples\":[[0],[1]],\"weights\":[1,1]}],"
                                     "\"shared\":{\"frames\":[{\"name\":\"x;y\\r\\n7\",\"file\":\"\"},"
                                     "{\"name\":\"\"}]}}");
        FoldedStats st;
        char *text = fold(m, NULL, &st);

        assert_string_equal(text,
                            "a:b?c 99;x:y??7 1\n"
                            "a:b?c 99;? 1\n");
        free(text);
        ss_model_free(m);
}

/* A document of one thread whose one stack is depth frames of name_len bytes each (all distinct). */
static char *deep_document(size_t depth, size_t name_len)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        fputs(HEAD "\"profiles\":[{\"type\":\"sampled\",\"name\":\"Thread 1 \\\"deep\\\"\","
                   "\"unit\":\"seconds\",\"samples\":[[",
              f);
        for (size_t i = 0; i < depth; i++)
                fprintf(f, "%s%zu", i ? "," : "", i);
        fputs("]],\"weights\":[0.5]}],\"shared\":{\"frames\":[", f);
        for (size_t i = 0; i < depth; i++) {
                fprintf(f, "%s{\"name\":\"f%05zu", i ? "," : "", i);
                for (size_t k = 6; k < name_len; k++)
                        fputc('x', f);
                fputs("\"}", f);
        }
        fputs("]}}", f);
        fclose(f);
        return text;
}

static void test_deep_stack_cut_from_the_root_side(void **state)
{
        /* 300 frames of 500 bytes: 150 KB of stack, more than two of Pyroscope's lines */
        char *doc = deep_document(300, 500), *text, *nl;
        SsModel *m = read_model(doc);
        FoldedStats st;

        text = fold(m, NULL, &st);
        nl = strchr(text, '\n');
        assert_non_null(nl);
        assert_true((size_t) (nl - text) + 1 <= FOLDED_LINE_MAX);
        assert_true((size_t) (nl - text) + 1 > FOLDED_LINE_MAX - 600); /* filled, not emptied */
        assert_int_equal(st.lines, 1);
        assert_int_equal(st.samples, 1); /* the sample stays */
        assert_int_equal(st.cut_stacks, 1);
        assert_true(st.cut_frames > 150 && st.cut_frames < 300);
        assert_memory_equal(text, "deep;[", 6);  /* the thread first, then what was cut */
        assert_non_null(strstr(text, "f00299")); /* the leaf is kept */
        assert_null(strstr(text, "f00000"));
        assert_string_equal(nl - 2, " 1\n");
        {
                char want[64];
                snprintf(want, sizeof(want), "deep;[%" PRIu64 " frames cut];f%05" PRIu64 "x", st.cut_frames,
                         st.cut_frames);
                assert_memory_equal(text, want, strlen(want));
        }
        free(text);
        free(doc);
        ss_model_free(m);
}

static void test_long_name_capped(void **state)
{
        char *doc = deep_document(2, 100000), *text;
        SsModel *m = read_model(doc);
        FoldedStats st;

        text = fold(m, NULL, &st);
        /* "deep;" + 2 frames of FOLDED_FRAME_MAX + ";" + " 1\n" */
        assert_int_equal(strlen(text), 5 + 2 * FOLDED_FRAME_MAX + 1 + 3);
        assert_int_equal(st.cut_stacks, 0);
        free(text);
        free(doc);
        ss_model_free(m);
}

/* A stream that fails: the error comes back, not a short file taken for whole. */
static void test_write_error(void **state)
{
        SsModel *m = read_model(two_threads);
        FILE *f = fopen("/dev/full", "w");

        if (!f)
                skip();
        assert_int_equal(folded_write(m, NULL, NULL, f, NULL), -EIO);
        fclose(f);
        ss_model_free(m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lines_and_totals),
                cmocka_unit_test(test_idle_left_out_and_counted),
                cmocka_unit_test(test_hostile_names),
                cmocka_unit_test(test_deep_stack_cut_from_the_root_side),
                cmocka_unit_test(test_long_name_capped),
                cmocka_unit_test(test_write_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
