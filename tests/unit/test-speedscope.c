/* SPDX-License-Identifier: MIT */
/*
 * The streaming speedscope reader: its JSON tokenizer (grammar, escapes,
 * tokens split across read blocks), the file's structure in any key order,
 * evented profiles, the run-length timeline and what it refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "speedscope-lex.h"
#include "speedscope-read.h"

/* A file holding text, opened for reading; the path is unlinked at once. */
static int temp_fd(const char *text, size_t len)
{
        char path[] = "/tmp/test-speedscope-XXXXXX";
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(write(fd, text, len), (ssize_t) len);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static void test_lex_tokens(void **state)
{
        const char *text = " {\"a\" : [1, -2.5e3, true,false ,null], \"b\\n\\u00e9\\ud83d\\ude00\":\"\"}\n";
        static const JsonTok want[] = {
                JSON_TOK_OBJ_OPEN, JSON_TOK_STRING, JSON_TOK_COLON,  JSON_TOK_ARR_OPEN,  JSON_TOK_NUMBER,
                JSON_TOK_COMMA,    JSON_TOK_NUMBER, JSON_TOK_COMMA,  JSON_TOK_TRUE,      JSON_TOK_COMMA,
                JSON_TOK_FALSE,    JSON_TOK_COMMA,  JSON_TOK_NULL,   JSON_TOK_ARR_CLOSE, JSON_TOK_COMMA,
                JSON_TOK_STRING,   JSON_TOK_COLON,  JSON_TOK_STRING, JSON_TOK_OBJ_CLOSE, JSON_TOK_END
        };

        /* Every block size from 1 byte: tokens split anywhere must come out the same. */
        for (size_t block = 1; block <= 9; block++) {
                JsonLexer l;
                int fd = temp_fd(text, strlen(text));
                assert_int_equal(json_lexer_init_fd(&l, fd, block), 0);
                for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                        JsonTok t = json_lex_next(&l);
                        assert_int_equal(t, want[i]);
                        if (i == 1)
                                assert_string_equal(l.str, "a");
                        if (i == 4) {
                                assert_true(l.num_is_uint);
                                assert_int_equal(l.num_uint, 1);
                        }
                        if (i == 6) {
                                assert_false(l.num_is_uint);
                                assert_float_equal(l.num, -2500, 0);
                        }
                        if (i == 15)
                                assert_string_equal(l.str, "b\n\xc3\xa9\xf0\x9f\x98\x80");
                        if (i == 17)
                                assert_string_equal(l.str, "");
                }
                json_lexer_done(&l);
                close(fd);
        }
}

static JsonTok lex_one(const char *text, JsonLexer *l)
{
        json_lexer_init_mem(l, text, strlen(text));
        return json_lex_next(l);
}

static void test_lex_bad(void **state)
{
        static const char *const bad[] = { "01",          "-",        "1.",  ".5",    "1e",
                                           "+1",          "tru",      "nul", "\"abc", "\"a\\x\"",
                                           "\"\\u12G4\"", "\"a\tb\"", "@",   "-a" };
        JsonLexer l;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                JsonTok t = lex_one(bad[i], &l);
                if (t != JSON_TOK_ERROR) /* "01" is "0" then an error on "1" */
                        t = json_lex_next(&l);
                assert_int_equal(t, JSON_TOK_ERROR);
                assert_true(l.error < 0);
                assert_non_null(strstr(l.message, "byte"));
                json_lexer_done(&l);
        }
        /* A lone surrogate and a NUL become U+FFFD, not a cut string. */
        assert_int_equal(lex_one("\"\\ud800x\\u0000\"", &l), JSON_TOK_STRING);
        assert_string_equal(l.str, "\xef\xbf\xbdx\xef\xbf\xbd");
        json_lexer_done(&l);
        /* 63 digits fill the number buffer: what follows them is refused, never written past it. */
        static const char *const tails[] = { ".5", "e5", "e+5", "1" };
        for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
                char text[96];
                snprintf(text, sizeof(text), "%s%s",
                         "422222222222222222222222222222222222222222222222222222222222222", tails[i]);
                assert_int_equal(lex_one(text, &l), JSON_TOK_ERROR);
                assert_non_null(strstr(l.message, "number too long"));
                json_lexer_done(&l);
        }
        /* Big numbers are doubles, not wrapped integers. */
        assert_int_equal(lex_one("123456789012345678901", &l), JSON_TOK_NUMBER);
        assert_false(l.num_is_uint);
        assert_float_equal(l.num, 1.23456789012345678901e20, 1e6);
        json_lexer_done(&l);
}

static void test_lex_uint_array(void **state)
{
        static const struct {
                const char *text;
                long n;
        } cases[] = {
                { "]", 0 },    { "1]", 1 },    { " 0 , 12,3 ]", 3 },  { "4294967295]", 1 },
                { "1,]", -1 }, { ",1]", -1 },  { "1 2]", -1 },        { "01]", -1 },
                { "-1]", -1 }, { "1.5]", -1 }, { "4294967296]", -1 }, { "99999999999]", -1 },
                { "1,2", -1 },
        };
        uint32_t *buf = NULL;
        size_t cap = 0;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                JsonLexer l;
                json_lexer_init_mem(&l, cases[i].text, strlen(cases[i].text));
                assert_int_equal(json_lex_uint_array(&l, &buf, &cap, 100), cases[i].n);
                if (cases[i].n == 3)
                        assert_true(buf[0] == 0 && buf[1] == 12 && buf[2] == 3);
                if (cases[i].n == 1 && cases[i].text[0] == '4')
                        assert_true(buf[0] == 4294967295u);
                json_lexer_done(&l);
        }
        {
                JsonLexer l;
                json_lexer_init_mem(&l, "1,2,3]", 6);
                assert_int_equal(json_lex_uint_array(&l, &buf, &cap, 2), -1); /* too deep */
                json_lexer_done(&l);
        }
        /* A bad byte is reported at its own offset, whatever the read blocks. */
        for (size_t block = 1; block <= 7; block++) {
                const char *text = "[[4,3,2,1mat]]";
                int fd = temp_fd(text, strlen(text));
                JsonLexer l;
                assert_int_equal(json_lexer_init_fd(&l, fd, block), 0);
                assert_int_equal(json_lex_next(&l), JSON_TOK_ARR_OPEN);
                assert_int_equal(json_lex_next(&l), JSON_TOK_ARR_OPEN);
                assert_int_equal(json_lex_uint_array(&l, &buf, &cap, 100), -1);
                assert_non_null(strstr(l.message, "at byte 9"));
                json_lexer_done(&l);
                close(fd);
        }
        free(buf);
}

#define SCHEMA "\"$schema\":\"https://www.speedscope.app/file-format-schema.json\""
#define FRAMES                                                                                         \
        "\"shared\":{\"frames\":[{\"name\":\"<module>\",\"file\":\"app.py\",\"line\":1,\"col\":null}," \
        "{\"name\":\"loop\",\"file\":\"app.py\",\"line\":10,\"col\":null},"                            \
        "{\"name\":\"work\",\"file\":\"app.py\",\"line\":20,\"col\":null},"                            \
        "{\"name\":\"loop\",\"file\":\"app.py\",\"line\":12,\"col\":null}]}"
#define PROFILE(name, samples, weights)                                                                 \
        "{\"type\":\"sampled\",\"name\":" name ",\"unit\":\"seconds\",\"startValue\":0,\"endValue\":1," \
        "\"samples\":" samples ",\"weights\":" weights "}"

static SsModel *read_ok(const char *text)
{
        SsModel *m = NULL;
        char *err = NULL;
        int r = ss_read_mem(text, strlen(text), &m, &err);

        if (r < 0)
                fail_msg("%s: %s", text, err);
        free(err);
        return m;
}

static void read_bad(const char *text, const char *words)
{
        SsModel *m = NULL;
        char *err = NULL;

        assert_int_equal(ss_read_mem(text, strlen(text), &m, &err), -EBADMSG);
        assert_null(m);
        assert_non_null(err);
        if (!strstr(err, words))
                fail_msg("\"%s\" does not say \"%s\"", err, words);
        free(err);
}

static void test_read_pyspy_shape(void **state)
{
        /* py-spy's order: profiles before shared; two threads; the second frame is "loop" at two lines. */
        SsModel *m = read_ok("{" SCHEMA ",\"profiles\":[" PROFILE(
                "\"Thread 4242 \\\"MainThread\\\"\"", "[[0,1],[0,1],[0,1,2],[0,3],[0,1]]",
                "[0.01,0.01,0.01,0.01,0.01]") "," PROFILE("\"Process 9 Thread 77 \\\"Worker-1\\\"\"",
                                                          "[[0,1,2],[]]",
                                                          "[0.01,0.01]") "]," FRAMES
                                                                         ",\"activeProfileIndex\":null,\"exporter\":\"py-spy@0.3.14\","
                                                                         "\"name\":\"py-spy profile\"}\n");
        const SsThread *t;

        assert_int_equal(m->n_frames, 4);
        assert_int_equal(m->n_funcs, 3); /* loop at lines 10 and 12 is one function */
        assert_int_equal(m->frames[1].func, m->frames[3].func);
        assert_string_equal(m->exporter, "py-spy@0.3.14");
        assert_int_equal(m->n_threads, 2);
        assert_int_equal(m->n_samples, 7);
        t = &m->threads[0];
        assert_string_equal(t->name, "MainThread");
        assert_int_equal(t->tid, 4242);
        assert_int_equal(t->pid, -1);
        assert_int_equal(t->n_samples, 5);
        assert_float_equal(t->seconds, 0.05, 1e-12);
        /* Runs: [0,1]x2, [0,1,2], [0,3], [0,1] -- consecutive identical samples share one. */
        assert_int_equal(t->n_runs, 4);
        assert_int_equal(t->runs[0].n, 2);
        assert_float_equal(t->runs[1].t, 0.02, 1e-12);
        assert_float_equal(ss_run_seconds(t, 0), 0.02, 1e-12);
        assert_int_equal(t->runs[0].node, t->runs[3].node);
        assert_int_equal(m->nodes[t->runs[0].node].self_n, 3);
        assert_float_equal(m->nodes[t->runs[0].node].self_s, 0.03, 1e-12);
        assert_int_equal(m->nodes[t->runs[1].node].depth, 3);
        assert_int_equal(ss_node_func(m, t->runs[1].node), m->frames[2].func);
        t = &m->threads[1];
        assert_string_equal(t->name, "Worker-1");
        assert_int_equal(t->tid, 77);
        assert_int_equal(t->pid, 9);
        assert_int_equal(t->runs[1].node, t->root); /* an empty stack ends at the root */
        ss_model_free(m);
}

static void test_read_any_order(void **state)
{
        /* shared first, weights before samples, unknown keys anywhere, milliseconds. */
        SsModel *m = read_ok(
                "{\"x\":{\"y\":[1,{\"z\":\"]\"}]}," FRAMES ",\"profiles\":[{\"weights\":[10,10,30],"
                "\"extra\":[[]],\"unit\":\"milliseconds\",\"samples\":[[0],[0],[0,1]],\"type\":\"sampled\","
                "\"name\":\"Thread 0x7F00AB \\\"w\\\"\",\"endValue\":50,\"startValue\":0}]," SCHEMA "}");

        assert_int_equal(m->n_threads, 1);
        assert_int_equal(m->threads[0].tid, -1); /* py-spy writes a hex id when it has no OS tid */
        assert_string_equal(m->threads[0].name, "w");
        assert_float_equal(m->threads[0].seconds, 0.05, 1e-12);
        assert_float_equal(m->threads[0].runs[1].t, 0.02, 1e-12);
        assert_true(m->seconds_known);
        ss_model_free(m);
}

static void test_read_evented(void **state)
{
        /* main [0..10), work [2..5) inside loop [1..8): self times main 3, loop 4, work 3. */
        SsModel *m =
                read_ok("{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":\"evented\",\"name\":\"e\","
                        "\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":10,\"events\":["
                        "{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"O\",\"frame\":1,\"at\":1},"
                        "{\"type\":\"O\",\"frame\":2,\"at\":2},{\"type\":\"C\",\"frame\":2,\"at\":5},"
                        "{\"type\":\"C\",\"frame\":1,\"at\":8},{\"type\":\"C\",\"frame\":0,\"at\":10}]}]}");
        const SsThread *t = &m->threads[0];
        double self[3] = { 0 };

        assert_true(t->evented);
        assert_float_equal(t->seconds, 0.010, 1e-12);
        for (size_t i = 0; i < m->n_nodes; i++)
                if (m->nodes[i].frame != SS_NONE)
                        self[m->nodes[i].frame] += m->nodes[i].self_s;
        assert_float_equal(self[0], 0.003, 1e-12);
        assert_float_equal(self[1], 0.004, 1e-12);
        assert_float_equal(self[2], 0.003, 1e-12);
        ss_model_free(m);
        read_bad(
                "{" SCHEMA "," FRAMES
                ",\"profiles\":[{\"type\":\"evented\",\"name\":\"e\",\"unit\":\"none\","
                "\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"C\",\"frame\":1,\"at\":1}]}]}",
                "does not match");
        read_bad(
                "{" SCHEMA "," FRAMES
                ",\"profiles\":[{\"type\":\"evented\",\"name\":\"e\",\"unit\":\"none\","
                "\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":5},{\"type\":\"C\",\"frame\":0,\"at\":1}]}]}",
                "back in time");
}

static void test_read_refuses(void **state)
{
        read_bad("[]", "not a speedscope file");
        read_bad("{\"profiles\":[]}", "no $schema");
        read_bad("{\"$schema\":\"https://example.com/other.json\",\"profiles\":[]}",
                 "not a speedscope file");
        read_bad("{" SCHEMA "," FRAMES ",\"profiles\":[" PROFILE("\"t\"", "[[0,4]]", "[1]") "]}",
                 "refers to frame 4");
        read_bad("{" SCHEMA "," FRAMES ",\"profiles\":[" PROFILE("\"t\"", "[[0],[0]]", "[1]") "]}",
                 "2 samples but 1 weights");
        read_bad("{" SCHEMA "," FRAMES ",\"profiles\":[" PROFILE("\"t\"", "[[0]]", "[-1]") "]}", "weight");
        read_bad("{" SCHEMA "," FRAMES ",\"profiles\":[" PROFILE("\"t\"", "[[0,]]", "[1]") "]}",
                 "frame indices");
        read_bad("{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":\"sampled\",\"unit\":\"parsecs\"}]}",
                 "unknown unit");
        read_bad("{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":\"flame\"}]}", "unknown profile type");
        read_bad("{" SCHEMA ",\"shared\":{\"frames\":[{\"file\":\"x.py\"}]},\"profiles\":[]}",
                 "has no name");
        read_bad("{" SCHEMA ",\"profiles\":[]} {}", "after the end");
        read_bad("{" SCHEMA ",\"profiles\":[" PROFILE("\"t\"", "[[0]]", "[1]"), "ends early");
        read_bad("{" SCHEMA ",\"profiles\":[{\"samples\":[[0,1", "ends early");
}

static void test_read_empty_and_fd(void **state)
{
        /* py-spy writes an empty profile list when it saw no sample. */
        const char *text = "{" SCHEMA ",\"profiles\":[],\"shared\":{\"frames\":[]}}\n";
        SsModel *m = read_ok(text);
        char *err = NULL;
        int fd;

        assert_int_equal(m->n_threads, 0);
        assert_int_equal(m->n_samples, 0);
        ss_model_free(m);
        fd = temp_fd(text, strlen(text));
        m = NULL;
        assert_int_equal(ss_read_fd(fd, &m, &err), 0);
        assert_int_equal(m->bytes, strlen(text));
        ss_model_free(m);
        close(fd);
}

static void test_thread_names(void **state)
{
        static const struct {
                const char *in, *name;
                long pid, tid;
        } cases[] = {
                { "Thread 12 \"MainThread\"", "MainThread", -1, 12 },
                { "Process 3 Thread 12 \"a \\\"b\\\" c\"", "a \\\"b\\\" c", 3, 12 },
                { "Thread 0x7F \"x\"", "x", -1, -1 },
                { "py-spy", "py-spy", -1, -1 },
                { "Thread 12", "Thread 12", -1, 12 },
                { "Process x Thread 5 \"n\"", "n", -1, -1 },
                { "pid 5000: Thread 5007 \"RCStreamer\"", "RCStreamer", 5000, 5007 },
                { "pid 5000 Thread 5007 \"x\"", "x", -1, -1 },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                long pid, tid;
                char *name;
                ss_parse_thread_name(cases[i].in, &pid, &tid, &name);
                assert_string_equal(name, cases[i].name);
                assert_int_equal(pid, cases[i].pid);
                assert_int_equal(tid, cases[i].tid);
                free(name);
        }
}

/* Many samples, streamed through a small block: the prefix cache and the tree agree with a plain count. */
static void test_read_many_samples(void **state)
{
        size_t cap = 1 << 20, n = 0;
        char *text = malloc(cap);
        SsModel *m = NULL;
        char *err = NULL;
        uint64_t leaf2 = 0;
        int fd;

        assert_non_null(text);
        n += (size_t) snprintf(text + n, cap - n,
                               "{" SCHEMA ",\"profiles\":[{\"type\":\"sampled\",\"name\":\"t\","
                               "\"unit\":\"seconds\",\"samples\":[");
        for (int i = 0; i < 20000; i++) {
                int k = (i * 7919) % 5;
                n += (size_t) snprintf(text + n, cap - n, "%s[0,1%s]", i ? "," : "",
                                       k == 0           ? ",2"
                                               : k == 1 ? ",3"
                                                        : "");
                leaf2 += k == 0;
        }
        n += (size_t) snprintf(text + n, cap - n, "],\"weights\":[");
        for (int i = 0; i < 20000; i++)
                n += (size_t) snprintf(text + n, cap - n, "%s0.01", i ? "," : "");
        n += (size_t) snprintf(text + n, cap - n, "]}]," FRAMES "}");
        fd = temp_fd(text, n);
        assert_int_equal(ss_read_fd(fd, &m, &err), 0);
        assert_int_equal(m->n_samples, 20000);
        assert_int_equal(m->n_nodes, 5); /* root, <module>, loop, work, loop:12 */
        for (size_t i = 0; i < m->n_nodes; i++)
                if (m->nodes[i].frame == 2)
                        assert_int_equal(m->nodes[i].self_n, leaf2);
        assert_float_equal(m->threads[0].seconds, 200, 1e-6);
        ss_model_free(m);
        close(fd);
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lex_tokens),     cmocka_unit_test(test_lex_bad),
                cmocka_unit_test(test_lex_uint_array), cmocka_unit_test(test_read_pyspy_shape),
                cmocka_unit_test(test_read_any_order), cmocka_unit_test(test_read_evented),
                cmocka_unit_test(test_read_refuses),   cmocka_unit_test(test_read_empty_and_fd),
                cmocka_unit_test(test_thread_names),   cmocka_unit_test(test_read_many_samples),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
