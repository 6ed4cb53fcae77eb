/* SPDX-License-Identifier: MIT */
/*
 * Austin's text output to speedscope: the line and frame parsers on what
 * Austin writes and on what it never should, the thread names, and the
 * streaming converter on recorded output (tests/fixtures/austin/: a whole
 * file, a cpu-mode file, a file cut by SIGKILL, a hand-written odd one),
 * read in blocks of every size from 1 byte and through its scratch file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "austin-convert.h"
#include "austin-names.h"
#include "austin-parse.h"

static char *fixture_path(const char *name)
{
        const char *dir = getenv("PAMPROF_FIXTURES");
        char *p = NULL;

        assert_true(asprintf(&p, "%s/austin/%s", dir ? dir : "tests/fixtures", name) > 0);
        return p;
}

static char *read_all(int fd, size_t *ret_len)
{
        size_t len = 0, cap = 4096;
        char *buf = malloc(cap + 1);
        ssize_t n;

        assert_non_null(buf);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        while ((n = read(fd, buf + len, cap - len)) > 0) {
                len += (size_t) n;
                if (len == cap) {
                        buf = realloc(buf, (cap *= 2) + 1);
                        assert_non_null(buf);
                }
        }
        buf[len] = '\0';
        *ret_len = len;
        return buf;
}

static char *read_fixture(const char *name, size_t *ret_len)
{
        char *path = fixture_path(name), *text;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        text = read_all(fd, ret_len);
        close(fd);
        free(path);
        return text;
}

static int temp_fd(const char *text, size_t len)
{
        char path[] = "/tmp/test-austin-XXXXXX";
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(write(fd, text, len), (ssize_t) len);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

/* Converts text; the document's text in *ret_out (malloc'd). */
static int convert_text(const char *text, size_t len, const AustinNames *names, size_t block, int spool,
                        AustinConvertFacts *facts, char **ret_out)
{
        int in = temp_fd(text, len), out = temp_fd("", 0);
        AustinConvertOptions o = { .names = names, .spool_fd = spool, .block_size = block };
        size_t out_len;
        int r = austin_convert(in, out, &o, facts);

        *ret_out = read_all(out, &out_len);
        close(in);
        close(out);
        return r;
}

static const cJSON *get(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        assert_non_null(v);
        return v;
}

/* A frame's line, -1 when it has none (the key is left out then, as speedscope's schema wants). */
static double line_of(const cJSON *frame)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(frame, "line");
        assert_true(!v || cJSON_IsNumber(v));
        return v ? v->valuedouble : -1;
}

static const cJSON *profile_named(const cJSON *doc, const char *name)
{
        const cJSON *p;

        cJSON_ArrayForEach(p, get(doc, "profiles")) if (strcmp(get(p, "name")->valuestring, name) ==
                                                        0) return p;
        fail_msg("no profile named %s", name);
        return NULL;
}

static size_t count_lines_starting(const char *text, size_t len, char c, bool whole_only)
{
        size_t n = 0;

        for (const char *p = text; p < text + len;) {
                const char *nl = memchr(p, '\n', (size_t) (text + len - p));
                if (!nl && whole_only)
                        break;
                if (*p == c)
                        n++;
                p = nl ? nl + 1 : text + len;
        }
        return n;
}

/* ---- the parsers ---- */

static void test_parse_header_and_sample(void **state)
{
        AustinMeta meta = { 0 };
        AustinSample s;
        const char *line = "P32319;T0:32326;/usr/lib/python3.11/threading.py:Thread._bootstrap:995;"
                           "/tmp/afx/app/sample_app.py:Telemetry.Encoder.encode:17 10074";

        assert_int_equal(austin_parse_line("# austin: 3.7.0", 15, &meta, &s), AUSTIN_LINE_META);
        assert_int_equal(austin_parse_line("# interval: 10000", 17, &meta, &s), AUSTIN_LINE_META);
        assert_int_equal(austin_parse_line("# mode: cpu", 11, &meta, &s), AUSTIN_LINE_META);
        assert_int_equal(austin_parse_line("# python: 3.11.2", 16, &meta, &s), AUSTIN_LINE_META);
        assert_int_equal(austin_parse_line("# multiprocess: on", 18, &meta, &s), AUSTIN_LINE_META);
        assert_int_equal(austin_parse_line("#", 1, &meta, &s), AUSTIN_LINE_META);
        assert_int_equal(austin_parse_line("", 0, &meta, &s), AUSTIN_LINE_EMPTY);
        assert_int_equal(austin_parse_line("\r", 1, &meta, &s), AUSTIN_LINE_EMPTY);
        assert_string_equal(meta.version, "3.7.0");
        assert_string_equal(meta.python, "3.11.2");
        assert_int_equal(meta.interval_us, 10000);
        assert_int_equal(meta.mode, AUSTIN_MODE_CPU);
        assert_true(meta.multiprocess);
        assert_false(meta.has_duration);
        assert_int_equal(austin_parse_line("# duration: 1990271", 19, &meta, &s), AUSTIN_LINE_META);
        assert_true(meta.has_duration);
        assert_int_equal(meta.duration_us, 1990271);

        assert_int_equal(austin_parse_line(line, strlen(line), &meta, &s), AUSTIN_LINE_SAMPLE);
        assert_int_equal(s.pid, 32319);
        assert_int_equal(s.iid, 0);
        assert_int_equal(s.tid, 32326);
        assert_int_equal(s.time_us, 10074);
        assert_int_equal(s.frames_len, strlen(line) - strlen("P32319;T0:32326;") - strlen(" 10074"));
        assert_memory_equal(s.frames, "/usr/lib/python3.11/threading.py:Thread._bootstrap:995;", 55);
}

static void test_parse_metrics_and_heads(void **state)
{
        AustinMeta meta = { .mode = AUSTIN_MODE_FULL };
        AustinSample s;

        /* full mode: time,idle,memory */
        assert_int_equal(austin_parse_line("P1;T0:2;a.py:f:1 300,1,-64", 26, &meta, &s), AUSTIN_LINE_SAMPLE);
        assert_int_equal(s.time_us, 300);
        assert_true(s.idle);
        /* a thread with no Python frame */
        assert_int_equal(austin_parse_line("P1;T3:2 5", 9, &meta, &s), AUSTIN_LINE_SAMPLE);
        assert_int_equal(s.iid, 3);
        assert_int_equal(s.frames_len, 0);
        /* Austin 2's head and a hex tid */
        meta.mode = AUSTIN_MODE_WALL;
        assert_int_equal(austin_parse_line("P1;T7;a.py:f:1 5", 16, &meta, &s), AUSTIN_LINE_SAMPLE);
        assert_int_equal(s.tid, 7);
        assert_int_equal(austin_parse_line("P1;T0:0x7f1a;a.py:f:1 5", 23, &meta, &s), AUSTIN_LINE_SAMPLE);
        assert_int_equal(s.tid, 0x7f1a);
        /* a space in a path: the metric is after the last space */
        assert_int_equal(austin_parse_line("P1;T0:2;/My App/a.py:f:1 42", 27, &meta, &s),
                         AUSTIN_LINE_SAMPLE);
        assert_int_equal(s.time_us, 42);
        assert_int_equal(s.frames_len, strlen("/My App/a.py:f:1"));
        /* memory mode: a signed byte delta, no time */
        meta.mode = AUSTIN_MODE_MEMORY;
        assert_int_equal(austin_parse_line("P1;T0:2;a.py:f:1 -64", 20, &meta, &s), AUSTIN_LINE_SAMPLE);
        assert_int_equal(s.time_us, 0);
}

static void test_parse_refuses(void **state)
{
        static const char *const bad[] = {
                "not austin",
                "P1;T0:2;a.py:f:1",  /* no metric */
                "P1;T0:2;a.py:f:1 ", /* an empty metric */
                "P1;T0:2;a.py:f:1 12x",
                "P1;T0:2;a.py:f:1 -5",                      /* negative time */
                "P1;T0:2;a.py:f:1 99999999999999999999999", /* over 2^64 */
                "Pabc;T0:2;a.py:f:1 5",
                "P;T0:2 5",
                "P1;X0:2 5",
                "P1 5",
                "P1;T0: 5",
                "P1;T0:0xzz 5",
                "P1;Tq:2 5",
                "P99999999999999999999;T0:2 5",
        };
        AustinMeta meta = { .mode = AUSTIN_MODE_WALL };
        AustinSample s;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(austin_parse_line(bad[i], strlen(bad[i]), &meta, &s), -EBADMSG);
}

static void test_parse_frames(void **state)
{
        const char *frames =
                "<frozen runpy>:_run_module_as_main:198;/a:b/c.py:Cls.meth.<locals>.<lambda>:36;"
                ":INVALID:;:GC:;x.py:f:;nocolon;one:colon;y.py:g:-3";
        const char *p = frames, *end = frames + strlen(frames), *f;
        static const struct {
                int r;
                const char *file, *scope;
                long line;
        } want[] = {
                { 0, "<frozen runpy>", "_run_module_as_main", 198 },
                { 0, "/a:b/c.py", "Cls.meth.<locals>.<lambda>", 36 },
                { 0, "", "INVALID", -1 },
                { 0, "", "GC", -1 },
                { 0, "x.py", "f", -1 },
                { -EBADMSG, NULL, NULL, 0 },
                { -EBADMSG, NULL, NULL, 0 },
                { 0, "y.py", "g", -1 },
        };
        size_t len, i = 0;

        while (austin_next_frame(&p, end, &f, &len)) {
                AustinFrame fr;
                assert_true(i < sizeof(want) / sizeof(want[0]));
                assert_int_equal(austin_parse_frame(f, len, &fr), want[i].r);
                if (want[i].r == 0) {
                        assert_int_equal(fr.file_len, strlen(want[i].file));
                        assert_memory_equal(fr.file, want[i].file, fr.file_len);
                        assert_int_equal(fr.scope_len, strlen(want[i].scope));
                        assert_memory_equal(fr.scope, want[i].scope, fr.scope_len);
                        assert_int_equal(fr.line, want[i].line);
                }
                i++;
        }
        assert_int_equal(i, sizeof(want) / sizeof(want[0]));
        p = end;
        assert_false(austin_next_frame(&p, end, &f, &len));
        assert_int_equal(austin_parse_frame("a.py:f:1x", 9, &(AustinFrame){ 0 }), -EBADMSG);
}

/* ---- names ---- */

static void test_names(void **state)
{
        const char *text = "100 100 python3\n100 101 Worker-1\n100 102 python3\nbad line\n0 5 zero\n"
                           "100 103 back\\\\slash\\nnewline\n100 101 Worker-renamed\n100 104 cut-off";
        AustinNames n = { 0 };
        char buf[128], line[64];

        assert_int_equal(austin_names_parse(&n, text, strlen(text)), 0);
        assert_int_equal(n.n, 5);
        assert_string_equal(austin_names_lookup(&n, 100, 101), "Worker-renamed"); /* later lines win */
        assert_string_equal(austin_names_lookup(&n, 100, 103), "back\\slash\nnewline");
        assert_null(austin_names_lookup(&n, 100, 104)); /* a line without its newline */
        assert_null(austin_names_lookup(&n, 200, 101));

        austin_thread_label(&n, 100, 0, 100, false, buf, sizeof(buf));
        assert_string_equal(buf, "Thread 100 \"MainThread\"");
        austin_thread_label(&n, 100, 0, 101, false, buf, sizeof(buf));
        assert_string_equal(buf, "Thread 101 \"Worker-renamed\"");
        austin_thread_label(&n, 100, 0, 102, false, buf,
                            sizeof(buf)); /* the process's own name: never set */
        assert_string_equal(buf, "Thread 102");
        austin_thread_label(&n, 100, 0, 999, true, buf, sizeof(buf));
        assert_string_equal(buf, "Process 100 Thread 999");
        austin_thread_label(&n, 100, 2, 101, true, buf, sizeof(buf));
        assert_string_equal(buf, "Process 100 Thread 101 \"Worker-renamed\" (interpreter 2)");
        austin_thread_label(NULL, 7, 0, 7, false, buf, sizeof(buf));
        assert_string_equal(buf, "Thread 7 \"MainThread\"");

        /* format and parse are each other's inverse, escapes included */
        assert_int_equal(austin_names_format(5, 6, "a\\b\nc", line, sizeof(line)), 12);
        assert_string_equal(line, "5 6 a\\\\b\\nc\n");
        assert_int_equal(austin_names_parse(&n, line, strlen(line)), 0);
        assert_string_equal(austin_names_lookup(&n, 5, 6), "a\\b\nc");
        assert_int_equal(austin_names_format(5, 6, "a name too long for it", line, 12), -ENOBUFS);
        austin_names_done(&n);
        austin_names_done(&n); /* twice is fine */
}

/* ---- the converter ---- */

/* The weights of a profile as an array of doubles (their count in *ret_n), and whether sample i is empty. */
static double *weights_of(const cJSON *p, size_t *ret_n)
{
        const cJSON *w;
        size_t n = 0;
        double *v = malloc(((size_t) cJSON_GetArraySize(get(p, "weights")) + 1) * sizeof(double));

        assert_non_null(v);
        cJSON_ArrayForEach(w, get(p, "weights")) v[n++] = w->valuedouble;
        *ret_n = n;
        return v;
}

static bool sample_empty(const cJSON *p, int i)
{
        return cJSON_GetArraySize(cJSON_GetArrayItem(get(p, "samples"), i)) == 0;
}

static void test_convert_wall_recording(void **state)
{
        size_t len, names_len;
        char *text = read_fixture("wall.austin", &len),
             *names_text = read_fixture("wall.threads", &names_len);
        char *out;
        AustinNames names = { 0 };
        AustinConvertFacts f;
        cJSON *doc;
        const cJSON *p, *fr, *frames;
        double total = 0;
        size_t samples = 0;

        assert_int_equal(austin_names_parse(&names, names_text, names_len), 0);
        assert_int_equal(convert_text(text, len, &names, 0, -1, &f, &out), 0);
        assert_string_equal(f.meta.version, "3.7.0");
        assert_int_equal(f.meta.mode, AUSTIN_MODE_WALL);
        assert_true(f.meta.has_duration);
        assert_false(f.cut);
        assert_int_equal(f.bad_lines, 0);
        assert_int_equal(f.bytes, len);
        assert_int_equal(f.bytes_used, len);
        assert_int_equal(f.samples, count_lines_starting(text, len, 'P', true));
        assert_int_equal(f.profiles, 3);

        doc = cJSON_Parse(out);
        assert_non_null(doc);
        assert_string_equal(get(doc, "$schema")->valuestring,
                            "https://www.speedscope.app/file-format-schema.json");
        assert_string_equal(get(doc, "exporter")->valuestring, "pamprofd from austin 3.7.0");
        assert_int_equal(get(doc, "activeProfileIndex")->valueint, 0);
        /* py-spy's names, main thread first */
        assert_string_equal(get(cJSON_GetArrayItem(get(doc, "profiles"), 0), "name")->valuestring,
                            "Thread 32319 \"MainThread\"");
        profile_named(doc, "Thread 32326 \"Telemetry-1\"");
        profile_named(doc, "Thread 32327"); /* kept the process's comm: no name */
        frames = get(get(doc, "shared"), "frames");
        assert_int_equal((size_t) cJSON_GetArraySize(frames), f.frames);
        cJSON_ArrayForEach(p, get(doc, "profiles"))
        {
                const cJSON *w, *st;
                double sum = 0;
                assert_string_equal(get(p, "type")->valuestring, "sampled");
                assert_string_equal(get(p, "unit")->valuestring, "seconds");
                assert_int_equal(cJSON_GetArraySize(get(p, "samples")),
                                 cJSON_GetArraySize(get(p, "weights")));
                cJSON_ArrayForEach(w, get(p, "weights")) sum += w->valuedouble;
                assert_float_equal(sum, get(p, "endValue")->valuedouble, 1e-9);
                cJSON_ArrayForEach(st, get(p, "samples"))
                {
                        const cJSON *ix;
                        cJSON_ArrayForEach(ix, st)
                                assert_true(ix->valueint >= 0 && ix->valueint < (int) f.frames);
                }
                samples += (size_t) cJSON_GetArraySize(get(p, "samples"));
                total += sum;
        }
        assert_int_equal(samples, f.samples);
        /* Austin's own time: each of the 3 threads for the ~1 s of the recording */
        assert_float_equal(total, 3 * 0.99, 0.1);
        /* frames: de-duplicated, <frozen runpy> and dotted qualnames kept whole, root first */
        for (int i = 0; i < cJSON_GetArraySize(frames); i++)
                for (int j = 0; j < i; j++) {
                        const cJSON *a = cJSON_GetArrayItem(frames, i), *b = cJSON_GetArrayItem(frames, j);
                        assert_false(strcmp(get(a, "name")->valuestring, get(b, "name")->valuestring) == 0 &&
                                     strcmp(get(a, "file")->valuestring, get(b, "file")->valuestring) == 0 &&
                                     line_of(a) == line_of(b));
                }
        {
                const cJSON *main_stack = cJSON_GetArrayItem(
                        get(profile_named(doc, "Thread 32319 \"MainThread\""), "samples"), 0);
                const cJSON *root = cJSON_GetArrayItem(frames, cJSON_GetArrayItem(main_stack, 0)->valueint);
                assert_string_equal(get(root, "name")->valuestring, "_run_module_as_main");
                assert_string_equal(get(root, "file")->valuestring, "<frozen runpy>");
                assert_int_equal(get(root, "line")->valueint, 198);
        }
        bool dotted = false, locals = false;
        cJSON_ArrayForEach(fr, frames)
        {
                dotted |= strcmp(get(fr, "name")->valuestring, "Telemetry.Encoder.encode") == 0;
                locals |= strcmp(get(fr, "name")->valuestring, "idle.<locals>.<lambda>") == 0;
                /* speedscope's schema: "col" a number or absent; we know none */
                assert_null(cJSON_GetObjectItemCaseSensitive(fr, "col"));
        }
        assert_true(dotted);
        assert_true(locals);
        cJSON_Delete(doc);
        austin_names_done(&names);
        free(out);
        free(text);
        free(names_text);
}

/* Blocks of any size from 1 byte, and a scratch file given or made: the same document. */
static void test_convert_any_block_size(void **state)
{
        size_t len;
        char *text = read_fixture("wall.austin", &len), *want, *got;
        AustinConvertFacts f, g;

        assert_int_equal(convert_text(text, len, NULL, 0, -1, &f, &want), 0);
        for (size_t block = 1; block <= 19; block++) {
                int spool = block % 2 ? temp_fd("", 0) : -1;
                assert_int_equal(convert_text(text, len, NULL, block, spool, &g, &got), 0);
                assert_string_equal(got, want);
                assert_int_equal(g.samples, f.samples);
                if (spool >= 0)
                        close(spool);
                free(got);
        }
        free(want);
        free(text);
}

static void test_convert_cut_file(void **state)
{
        size_t len;
        char *text = read_fixture("cut.austin", &len), *out;
        const char *last_nl = text + len;
        AustinConvertFacts f;
        cJSON *doc;

        while (last_nl > text && last_nl[-1] != '\n')
                last_nl--;
        assert_int_equal(convert_text(text, len, NULL, 4096, -1, &f, &out), 0);
        assert_true(f.cut);
        assert_false(f.meta.has_duration);
        assert_int_equal(f.bytes, len);
        assert_int_equal(f.bytes_used, (size_t) (last_nl - text));
        assert_true(f.bytes_used < len);
        assert_int_equal(f.samples, count_lines_starting(text, len, 'P', true));
        assert_int_equal(f.bad_lines, 0); /* the cut line is not a bad one: it is left out */
        doc = cJSON_Parse(out);
        assert_non_null(doc);
        assert_int_equal(cJSON_GetArraySize(get(doc, "profiles")), 3);
        cJSON_Delete(doc);
        free(out);
        free(text);
}

static void test_convert_cpu_mode(void **state)
{
        size_t len;
        char *text = read_fixture("cpu.austin", &len), *out;
        AustinConvertFacts f;

        assert_int_equal(convert_text(text, len, NULL, 0, -1, &f, &out), 0);
        assert_int_equal(f.meta.mode, AUSTIN_MODE_CPU);
        assert_true(f.samples > 0);
        /* only the busy thread is sampled when idle ones are left out */
        assert_true(f.profiles >= 1 && f.profiles <= 2);
        free(out);
        free(text);
}

static void test_convert_odd_lines(void **state)
{
        size_t len;
        char *text = read_fixture("odd.austin", &len), *out;
        AustinConvertFacts f;
        cJSON *doc;
        const cJSON *frames, *fr, *p;
        bool invalid = false, gc = false, spaced = false, cafe = false, quote = false, ctl = false;

        assert_int_equal(convert_text(text, len, NULL, 7, -1, &f, &out), 0);
        assert_int_equal(f.meta.mode, AUSTIN_MODE_FULL);
        assert_int_equal(f.bad_lines, 3);
        assert_int_equal(f.first_bad_line, 10);
        assert_int_equal(f.samples, 6);
        assert_false(f.cut);
        doc = cJSON_Parse(out); /* valid JSON, so valid UTF-8 in it */
        assert_non_null(doc);
        frames = get(get(doc, "shared"), "frames");
        cJSON_ArrayForEach(fr, frames)
        {
                const char *n = get(fr, "name")->valuestring, *file = get(fr, "file")->valuestring;
                invalid |= strcmp(n, "<invalid frame>") == 0 && line_of(fr) < 0;
                gc |= strcmp(n, "<garbage collection>") == 0;
                spaced |= strcmp(file, "/opt/My App/v1:2/main.py") == 0 &&
                        strcmp(n, "Server.Handler.<locals>.<lambda>") == 0 &&
                        get(fr, "line")->valueint == 12;
                cafe |= strcmp(file, "/opt/app/caf\xef\xbf\xbd.py") == 0;
                quote |= strcmp(file, "/opt/app/q\"b\\s.py") == 0;
                ctl |= strcmp(n, "f\x01") == 0;
        }
        assert_true(invalid && gc && spaced && cafe && quote && ctl);
        assert_non_null(strstr(out, "\"f\\u0001\""));
        /* no Python frame: an empty stack, after the gap of the two ticks before it (10 ms, 20 ms) */
        p = profile_named(doc, "Thread 102");
        assert_int_equal(cJSON_GetArraySize(get(p, "samples")), 2);
        assert_float_equal(cJSON_GetArrayItem(get(p, "weights"), 0)->valuedouble, 0.03, 1e-9);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(get(p, "samples"), 1)), 0);
        /* the sub-interpreter and the child process have their own profiles, on the session's clock */
        p = profile_named(doc, "Thread 101 (interpreter 1)");
        assert_float_equal(get(p, "endValue")->valuedouble, 2.035001, 1e-9);
        p = profile_named(doc, "Thread 200 \"MainThread\"");
        assert_float_equal(cJSON_GetArrayItem(get(p, "weights"), 1)->valuedouble, 0.03, 0);
        assert_true(sample_empty(p, 0)); /* the child is first seen when the parent's last tick starts */
        assert_float_equal(cJSON_GetArrayItem(get(p, "weights"), 0)->valuedouble, 0.035001, 1e-9);
        /* exact decimal seconds: 1 µs, 20000 µs */
        assert_non_null(strstr(out, "0.000001"));
        assert_non_null(strstr(out, "0.02"));
        cJSON_Delete(doc);
        free(out);
        free(text);
}

static void test_convert_refusals(void **state)
{
        size_t len;
        char *text = read_fixture("memory.austin", &len), *out;
        AustinConvertFacts f;
        cJSON *doc;

        assert_int_equal(convert_text(text, len, NULL, 0, -1, &f, &out), -ENOTSUP);
        assert_non_null(strstr(f.message, "memory mode"));
        free(out);
        free(text);
        assert_int_equal(convert_text("MOJ\x03\x01\x02", 6, NULL, 0, -1, &f, &out), -EMEDIUMTYPE);
        assert_non_null(strstr(f.message, "MOJO"));
        free(out);
        assert_int_equal(convert_text("hello\nworld\n", 12, NULL, 0, -1, &f, &out), -EBADMSG);
        assert_non_null(strstr(f.message, "not Austin's text output"));
        free(out);
        /* nothing at all, or a header alone: a valid document with no profiles (py-spy writes such too) */
        assert_int_equal(convert_text("", 0, NULL, 0, -1, &f, &out), 0);
        doc = cJSON_Parse(out);
        assert_non_null(doc);
        assert_int_equal(cJSON_GetArraySize(get(doc, "profiles")), 0);
        assert_string_equal(get(doc, "exporter")->valuestring, "pamprofd from austin (no version line)");
        cJSON_Delete(doc);
        free(out);
        assert_int_equal(
                convert_text("# austin: 3.7.0\n# mode: cpu\n\n\n# duration: 5\n", 44, NULL, 0, -1, &f, &out),
                0);
        assert_true(f.meta.has_duration);
        assert_int_equal(f.samples, 0);
        free(out);
}

/*
 * Threads on the session's clock (the real Austin 3.7, late.austin): Late-1
 * is born 1 s after start-up; its profile starts with an empty sample of
 * that length, so speedscope's Time Order view shows it from 1 s, not 0 s.
 */
static void test_convert_thread_born_late(void **state)
{
        size_t len, n_main, n_late;
        char *text = read_fixture("late.austin", &len), *out;
        AustinConvertFacts f;
        cJSON *doc;
        const cJSON *p, *main_p = NULL, *late = NULL;
        double *wm, *wl, main_end = 0, late_end = 0;

        assert_int_equal(convert_text(text, len, NULL, 0, -1, &f, &out), 0);
        doc = cJSON_Parse(out);
        assert_non_null(doc);
        assert_int_equal(cJSON_GetArraySize(get(doc, "profiles")), 2);
        cJSON_ArrayForEach(p, get(doc, "profiles"))
        {
                if (strstr(get(p, "name")->valuestring, "MainThread"))
                        main_p = p;
                else
                        late = p;
        }
        assert_non_null(main_p);
        assert_non_null(late);
        wm = weights_of(main_p, &n_main);
        wl = weights_of(late, &n_late);
        for (size_t i = 0; i < n_main; i++)
                main_end += wm[i];
        for (size_t i = 0; i < n_late; i++)
                late_end += wl[i];
        /* The main thread from 0 (its first samples are empty: no Python frame yet); Late-1 from 1.0 s
         * (plus the interpreter's start, ~0.05 s). */
        assert_true(wm[0] < 0.02);
        assert_true(sample_empty(late, 0));
        assert_false(sample_empty(late, 1));
        assert_true(wl[0] > 0.95 && wl[0] < 1.25);
        /* It lived 1 s: it ends where it died, within a tick or two of the main thread's end. */
        assert_true(late_end - wl[0] > 0.9 && late_end - wl[0] < 1.1);
        assert_true(fabs(main_end - late_end) < 0.1);
        assert_float_equal(get(late, "endValue")->valuedouble, late_end, 1e-6);
        assert_float_equal(f.seconds, fmax(main_end, late_end), 1e-6);
        assert_int_equal(f.samples, count_lines_starting(text, len, 'P', true));
        free(wm);
        free(wl);
        cJSON_Delete(doc);
        free(out);
        free(text);
}

/* The clock by hand: ticks, a thread's late start and a missed tick as gaps, a garbage thread id left out. */
static void test_convert_clock(void **state)
{
        static const char text[] = "# austin: 3.7.0\n# mode: wall\n\n"
                                   "P9;T0:9;/a.py:m:1 100\n"
                                   "P9;T0:9;/a.py:m:1 200\n"
                                   "P9;T0:10;/a.py:w:2 300\n" /* a new tick at 300 us: T10 born there */
                                   "P9;T0:9;/a.py:m:1 300\n"
                                   "P9;T0:9;/a.py:m:1 400\n"
                                   "P9;T0:450971566196;/a.py:m:1 500\n" /* garbage */
                                   "P9;T0:10;/a.py:w:2 500\n"           /* T10 missed the 400 us tick */
                                   "P9;T0:9;/a.py:m:1 500\n";
        static const double w10[] = { 0.0003, 0.0003, 0.0004, 0.0005 },
                            w9[] = { 0.0001, 0.0002, 0.0003, 0.0004, 0.0005 };
        AustinConvertFacts f;
        char *out;
        cJSON *doc;
        const cJSON *t9, *t10;
        double *w;
        size_t n;

        assert_int_equal(convert_text(text, sizeof(text) - 1, NULL, 0, -1, &f, &out), 0);
        assert_int_equal(f.samples, 7);
        assert_int_equal(f.garbage_samples, 1);
        assert_int_equal(f.gaps, 2);
        doc = cJSON_Parse(out);
        assert_non_null(doc);
        assert_int_equal(cJSON_GetArraySize(get(doc, "profiles")), 2); /* no "Thread 450971566196" */
        t9 = profile_named(doc, "Thread 9 \"MainThread\"");
        t10 = profile_named(doc, "Thread 10");
        w = weights_of(t10, &n);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++)
                assert_float_equal(w[i], w10[i], 1e-9);
        assert_true(sample_empty(t10, 0) && !sample_empty(t10, 1) && sample_empty(t10, 2) &&
                    !sample_empty(t10, 3));
        assert_float_equal(get(t10, "endValue")->valuedouble, 0.0015, 1e-9);
        free(w);
        w = weights_of(t9, &n);
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++)
                assert_float_equal(w[i], w9[i], 1e-9);
        free(w);
        assert_float_equal(f.seconds, 0.0015, 1e-9);
        cJSON_Delete(doc);
        free(out);
}

/* Enough samples to spill every buffer into the scratch file many times. */
static void test_convert_spills(void **state)
{
        size_t cap = 8 * 1024 * 1024, len = 0;
        char *text = malloc(cap), *out;
        AustinConvertFacts f;
        cJSON *doc;
        const cJSON *p;
        size_t n = 0;

        assert_non_null(text);
        len += (size_t) sprintf(text, "# austin: 3.7.0\n# interval: 100\n# mode: wall\n\n");
        for (unsigned i = 0; len + 512 < cap; i++) {
                len += (size_t) sprintf(text + len,
                                        "P9;T0:%u;/app/m.py:<module>:1;/app/w.py:Worker.step:%u;"
                                        "/app/w.py:deep.<locals>.f%u:%u %u\n",
                                        9 + i % 7, i % 13, i % 5, i % 17, 100 + i % 3);
                n++;
        }
        assert_int_equal(convert_text(text, len, NULL, 0, -1, &f, &out), 0);
        assert_int_equal(f.samples, n);
        assert_int_equal(f.profiles, 7);
        assert_int_equal(f.frames, 1 + 13 + 5 * 17);
        doc = cJSON_Parse(out);
        assert_non_null(doc);
        n = 0;
        cJSON_ArrayForEach(p, get(doc, "profiles"))
        {
                size_t k = (size_t) cJSON_GetArraySize(get(p, "samples"));
                assert_int_equal(k, (size_t) cJSON_GetArraySize(get(p, "weights")));
                assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(get(p, "samples"), (int) k - 1)), 3);
                const cJSON *st;
                cJSON_ArrayForEach(st, get(p, "samples")) n +=
                        cJSON_GetArraySize(st) > 0; /* the rest are gaps */
        }
        assert_int_equal(n, f.samples);
        cJSON_Delete(doc);
        free(out);
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_header_and_sample),
                cmocka_unit_test(test_parse_metrics_and_heads),
                cmocka_unit_test(test_parse_refuses),
                cmocka_unit_test(test_parse_frames),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_convert_wall_recording),
                cmocka_unit_test(test_convert_any_block_size),
                cmocka_unit_test(test_convert_cut_file),
                cmocka_unit_test(test_convert_cpu_mode),
                cmocka_unit_test(test_convert_odd_lines),
                cmocka_unit_test(test_convert_refusals),
                cmocka_unit_test(test_convert_spills),
                cmocka_unit_test(test_convert_thread_born_late),
                cmocka_unit_test(test_convert_clock),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
