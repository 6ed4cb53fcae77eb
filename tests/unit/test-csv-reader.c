/* SPDX-License-Identifier: MIT */
/* The one reader of the session's CSVs (common/base/csv-reader.c), on the files a crash, a
 * spreadsheet or a hostile thread name can leave. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv-reader.h"

typedef struct Text {
        FILE *f;
        CsvReader r;
} Text;

static void open_text(Text *t, const char *text, size_t len)
{
        t->f = fmemopen((void *) text, len, "r");
        assert_non_null(t->f);
        csv_reader_init(&t->r, t->f);
}

static void close_text(Text *t)
{
        csv_reader_done(&t->r);
        fclose(t->f);
}

static void test_quoted_thread_names(void **state)
{
        const char *text = "elapsed_seconds,tid,thread_name,cpu_core_percent\n"
                           "1,10,\"a,b\",5\n"
                           "1,11,\"say \"\"hi\"\"\",1\n"
                           "1,12,\"two\nlines\",2\n"
                           "1,13,,3\n"
                           "2,10,plain,4\n";
        Text t;

        open_text(&t, text, strlen(text));
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_column(&t.r, "thread_name"), 2);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(t.r.nfields, 4);
        assert_string_equal(t.r.fields[2], "a,b");
        assert_false(t.r.malformed);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_string_equal(t.r.fields[2], "say \"hi\"");
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_string_equal(t.r.fields[2], "two\nlines");
        assert_string_equal(t.r.fields[3], "2");
        assert_int_equal(t.r.line_no, 4);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_string_equal(t.r.fields[2], "");
        assert_int_equal(t.r.line_no, 6); /* the newline in the name counted */
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_string_equal(t.r.fields[2], "plain");
        assert_false(t.r.unterminated);
        assert_int_equal(csv_reader_next(&t.r), 0);
        close_text(&t);
}

static void test_empty_cells_are_no_figure(void **state)
{
        const char *text = "a,b,c,d\n,1.5, ,x\n";
        double v;
        Text t;

        open_text(&t, text, strlen(text));
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(t.r.nfields, 4);
        assert_int_equal(csv_figure(&t.r, 0, &v), -ENODATA);
        assert_true(isnan(v));
        assert_int_equal(csv_figure(&t.r, 1, &v), 0);
        assert_float_equal(v, 1.5, 0);
        assert_int_equal(csv_figure(&t.r, 2, &v), -ENODATA); /* blank is empty */
        assert_int_equal(csv_figure(&t.r, 3, &v), -EINVAL);
        assert_true(isnan(v));
        assert_int_equal(csv_figure(&t.r, -1, &v), -ENODATA); /* an absent column */
        assert_int_equal(csv_figure(&t.r, 4, &v), -ENODATA);
        close_text(&t);
}

static void test_numbers(void **state)
{
        double v;

        assert_int_equal(csv_parse_double("12.5", &v), 0);
        assert_float_equal(v, 12.5, 0);
        assert_int_equal(csv_parse_double("\t-3 ", &v), 0);
        assert_float_equal(v, -3, 0);
        assert_int_equal(csv_parse_double("1e3", &v), 0);
        assert_float_equal(v, 1000, 0);
        assert_int_equal(csv_parse_double("", &v), -ENODATA);
        assert_int_equal(csv_parse_double("1.2.3", &v), -EINVAL);
        assert_int_equal(csv_parse_double("1e999", &v), -EINVAL);
        assert_int_equal(csv_parse_double("nan", &v), 0); /* a number; csv_figure() refuses it */
        assert_true(isnan(v));
}

static void test_crlf_and_blank_lines(void **state)
{
        const char *text = "\xef\xbb\xbf"
                           "x,y\r\n\r\n1,\"2\"\r\n3,4\r";
        Text t;

        open_text(&t, text, strlen(text));
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_column(&t.r, "x"), 0); /* behind the byte-order mark */
        assert_string_equal(t.r.fields[1], "y");
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_true(csv_blank(&t.r));
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_false(t.r.malformed);
        assert_string_equal(t.r.fields[0], "1");
        assert_string_equal(t.r.fields[1], "2");
        assert_int_equal(t.r.line_no, 3);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_string_equal(t.r.fields[1], "4");
        assert_true(t.r.unterminated); /* a lone CR at the end of the file */
        assert_int_equal(csv_reader_next(&t.r), 0);
        close_text(&t);
}

static void test_truncated_last_line(void **state)
{
        const char *text = "a,b,c\n1,2,3\n4,5";
        const char *open_quote = "a,b\n1,\"par";
        Text t;

        open_text(&t, text, strlen(text));
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_false(t.r.unterminated);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_true(t.r.unterminated); /* the row being written when the daemon died */
        assert_false(t.r.malformed);
        assert_int_equal(t.r.nfields, 2); /* the caller sees it is short */
        assert_int_equal(csv_reader_next(&t.r), 0);
        close_text(&t);

        open_text(&t, open_quote, strlen(open_quote));
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_true(t.r.unterminated);
        assert_true(t.r.malformed); /* its quote never closed */
        assert_int_equal(csv_reader_next(&t.r), 0);
        close_text(&t);
}

static size_t append(char *text, size_t len, const char *s)
{
        memcpy(text + len, s, strlen(s));
        return len + strlen(s);
}

/* A line over CSV_RECORD_MAX, and a runaway quote: each is one malformed record, memory stays
 * within the bound, and the next line is read as it is. */
static void test_over_long_lines(void **state)
{
        size_t n = CSV_RECORD_MAX * 3;
        char *text = malloc(2 * n + 1024);
        size_t len = 0;
        Text t;

        assert_non_null(text);
        len = append(text, len, "a,b\n");
        memset(text + len, 'x', n);
        len += n;
        len = append(text, len, ",1\n1,2\n\"");
        for (size_t i = 0; i < n; i += 100) {
                memset(text + len, 'y', 99);
                text[len + 99] = '\n';
                len += 100;
        }
        len = append(text, len, "\n3,4\n");
        open_text(&t, text, len);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_true(t.r.malformed);
        assert_true(t.r.cap <= CSV_RECORD_MAX + 1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_false(t.r.malformed);
        assert_string_equal(t.r.fields[1], "2");
        assert_int_equal(t.r.line_no, 3);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_true(t.r.malformed); /* the runaway quote, given up at a line's end */
        assert_true(t.r.cap <= CSV_RECORD_MAX + 1);
        /* The rest of the lines it spanned come back as records of their own, then 3,4. */
        for (;;) {
                assert_int_equal(csv_reader_next(&t.r), 1);
                if (t.r.nfields == 2 && strcmp(t.r.fields[0], "3") == 0)
                        break;
        }
        assert_false(t.r.malformed);
        assert_int_equal(csv_reader_next(&t.r), 0);
        close_text(&t);
        free(text);
}

static void test_header_order_and_extra_columns(void **state)
{
        const char *text = " memory_mb ,extra,\telapsed_seconds,cpu_percent,\"quoted name\"\n"
                           "100,\"x,y\",2,3.5,z\n";
        double v;
        Text t;

        open_text(&t, text, strlen(text));
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_column(&t.r, "elapsed_seconds"), 2);
        assert_int_equal(csv_column(&t.r, "memory_mb"), 0);
        assert_int_equal(csv_column(&t.r, "cpu_percent"), 3);
        assert_int_equal(csv_column(&t.r, "quoted name"), 4);
        assert_int_equal(csv_column(&t.r, "pid"), -1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(t.r.nfields, 5);
        assert_int_equal(csv_figure(&t.r, 3, &v), 0);
        assert_float_equal(v, 3.5, 0);
        assert_int_equal(csv_figure(&t.r, 1, &v), -EINVAL); /* "x,y" */
        close_text(&t);
}

static void test_broken_quoting_and_nul(void **state)
{
        const char text[] = "a,b\n\"x\"y,1\n1,2\0\n3,4\n5,a\"b\n";
        Text t;

        open_text(&t, text, sizeof(text) - 1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_true(t.r.malformed); /* text after the closing quote */
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_true(t.r.malformed); /* a NUL byte */
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_false(t.r.malformed);
        assert_string_equal(t.r.fields[1], "4");
        assert_int_equal(csv_reader_next(&t.r), 1);
        assert_false(t.r.malformed); /* a quote inside an unquoted field is a character */
        assert_string_equal(t.r.fields[1], "a\"b");
        assert_int_equal(csv_reader_next(&t.r), 0);
        close_text(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quoted_thread_names),
                cmocka_unit_test(test_empty_cells_are_no_figure),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_crlf_and_blank_lines),
                cmocka_unit_test(test_truncated_last_line),
                cmocka_unit_test(test_over_long_lines),
                cmocka_unit_test(test_header_order_and_extra_columns),
                cmocka_unit_test(test_broken_quoting_and_nul),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
