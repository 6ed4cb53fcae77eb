/* SPDX-License-Identifier: MIT */
/*
 * The merge of a session's runs (common/profile/profile-merge.h) on small literal runs: shared
 * frames de-duplicated and renumbered, one profile per thread across runs, a later PAM's threads
 * named by pid, an index out of range dropped, the facts counted; and what JSON cannot say (a
 * weight or a line of 1e999, found by tests/fuzz/fuzz-merge) refused or left out, never written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "profile-merge.h"

#define HEAD "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","

static int memfd_of(const char *text)
{
        int fd = memfd_create("test-merge", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        return fd;
}

/* Merges the runs (the first on pid 100, the others on pid 200, or all on 100 with starts given,
 * each run at its start); the document parsed, or NULL. */
static int merge_at(const char *const *runs, const double *starts, size_t n, MergeFacts *facts, cJSON **ret)
{
        MergeInput in[4];
        int out = memfd_of(""), r;
        off_t len;
        char *text;

        for (size_t i = 0; i < n; i++)
                in[i] = (MergeInput){ .fd = memfd_of(runs[i]),
                                      .pid = i == 0 || starts ? 100 : 200,
                                      .start = starts ? starts[i] : 0 };
        r = profile_merge(in, n, out, facts);
        len = lseek(out, 0, SEEK_END);
        text = calloc(1, (size_t) len + 1);
        assert_non_null(text);
        assert_int_equal(pread(out, text, (size_t) len, 0), len);
        *ret = r >= 0 ? cJSON_Parse(text) : NULL;
        if (r >= 0)
                assert_non_null(*ret); /* what it writes is JSON */
        free(text);
        for (size_t i = 0; i < n; i++)
                close(in[i].fd);
        close(out);
        return r;
}

static int merge(const char *const *runs, size_t n, MergeFacts *facts, cJSON **ret)
{
        return merge_at(runs, NULL, n, facts, ret);
}

static const cJSON *item(const cJSON *o, const char *path)
{
        char key[64];

        while (o && *path) {
                size_t k = strcspn(path, ".");
                snprintf(key, sizeof(key), "%.*s", (int) k, path);
                o = key[0] >= '0' && key[0] <= '9' ? cJSON_GetArrayItem(o, atoi(key))
                                                   : cJSON_GetObjectItemCaseSensitive(o, key);
                path += k + (path[k] == '.');
        }
        return o;
}

static void test_two_runs(void **state)
{
        const char *runs[] = {
                HEAD
                "\"profiles\":[{\"type\":\"sampled\",\"name\":\"Thread 1 \\\"Main\\\"\",\"unit\":\"seconds\","
                "\"samples\":[[1,0],[1]],\"weights\":[0.01,0.01]}],"
                "\"shared\":{\"frames\":[{\"name\":\"main\",\"file\":\"a.py\",\"line\":1,\"col\":null},"
                "{\"name\":\"work\",\"file\":\"a.py\",\"line\":null}]}}\n",
                /* the same thread name and frame "work" again, in another order; an index out of range */
                HEAD
                "\"profiles\":[{\"type\":\"sampled\",\"name\":\"Thread 1 \\\"Main\\\"\",\"unit\":\"seconds\","
                "\"samples\":[[0,9]],\"weights\":[0.5]}],"
                "\"shared\":{\"frames\":[{\"name\":\"work\",\"file\":\"a.py\",\"line\":null}]}}\n",
        };
        MergeFacts facts = { .threads = cJSON_CreateArray(), .sampler = "py-spy" };
        cJSON *doc = NULL;

        assert_int_equal(merge(runs, 2, &facts, &doc), 0);
        assert_int_equal(facts.frames, 2); /* "work" once */
        assert_int_equal(facts.profiles, 2);
        assert_int_equal(facts.samples, 3);
        assert_float_equal(facts.seconds, 0.5, 1e-9);
        assert_string_equal(cJSON_GetStringValue(item(doc, "profiles.0.name")), "Thread 1 \"Main\"");
        /* a later PAM's thread of the same name is another profile, named by its pid */
        assert_string_equal(cJSON_GetStringValue(item(doc, "profiles.1.name")),
                            "pid 200: Thread 1 \"Main\"");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(facts.threads, 1)),
                            "pid 200: Thread 1 \"Main\"");
        /* renumbered into the merged frames; 9 was no frame: dropped, not invented */
        assert_int_equal(cJSON_GetArraySize(item(doc, "profiles.1.samples.0")), 1);
        assert_int_equal((int) cJSON_GetNumberValue(item(doc, "profiles.1.samples.0.0")), 1);
        assert_float_equal(cJSON_GetNumberValue(item(doc, "profiles.0.endValue")), 0.02, 1e-9);
        assert_int_equal((int) cJSON_GetNumberValue(item(doc, "shared.frames.0.line")), 1);
        assert_null(item(doc, "shared.frames.1.line")); /* null lines are left out */
        assert_string_equal(cJSON_GetStringValue(item(doc, "exporter")), "pamprofd (py-spy runs merged)");
        cJSON_Delete(doc);
        cJSON_Delete(facts.threads);
}

/* Each thread on the first run's clock: a thread first seen in the second run (10 s later) starts
 * at 10 s, and one seen in both has the gap between its runs as an empty sample (speedscope's Time
 * Order view showed a chunk's new thread at 0 s). Samples and weights stay pairs. */
static void test_a_later_runs_thread_starts_when_its_run_did(void **state)
{
        const char *runs[] = {
                HEAD "\"profiles\":[{\"name\":\"A\",\"samples\":[[0],[0]],\"weights\":[1,1]}],"
                     "\"shared\":{\"frames\":[{\"name\":\"f\",\"file\":\"x\"}]}}",
                HEAD "\"profiles\":[{\"name\":\"A\",\"samples\":[[0]],\"weights\":[1]},"
                     "{\"name\":\"B\",\"samples\":[[0]],\"weights\":[0.5]}],"
                     "\"shared\":{\"frames\":[{\"name\":\"f\",\"file\":\"x\"}]}}",
        };
        const double starts[] = { 100, 110 };
        const double a_weights[] = { 1, 1, 8, 1 }, b_weights[] = { 10, 0.5 };
        const int a_sizes[] = { 1, 1, 0, 1 }, b_sizes[] = { 0, 1 };
        MergeFacts facts = { 0 };
        cJSON *doc = NULL;

        assert_int_equal(merge_at(runs, starts, 2, &facts, &doc), 0);
        assert_int_equal(facts.profiles, 2);
        assert_int_equal(facts.samples, 6); /* as the file has them: the 2 empty ones too */
        assert_float_equal(facts.seconds, 11, 1e-9);
        assert_string_equal(cJSON_GetStringValue(item(doc, "profiles.1.name")), "B");
        assert_int_equal(cJSON_GetArraySize(item(doc, "profiles.0.weights")), 4);
        assert_int_equal(cJSON_GetArraySize(item(doc, "profiles.0.samples")), 4);
        assert_int_equal(cJSON_GetArraySize(item(doc, "profiles.1.weights")), 2);
        assert_int_equal(cJSON_GetArraySize(item(doc, "profiles.1.samples")), 2);
        for (int i = 0; i < 4; i++) {
                assert_float_equal(
                        cJSON_GetNumberValue(cJSON_GetArrayItem(item(doc, "profiles.0.weights"), i)),
                        a_weights[i], 1e-9);
                assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(item(doc, "profiles.0.samples"), i)),
                                 a_sizes[i]);
        }
        for (int i = 0; i < 2; i++) {
                assert_float_equal(
                        cJSON_GetNumberValue(cJSON_GetArrayItem(item(doc, "profiles.1.weights"), i)),
                        b_weights[i], 1e-9);
                assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(item(doc, "profiles.1.samples"), i)),
                                 b_sizes[i]);
        }
        assert_float_equal(cJSON_GetNumberValue(item(doc, "profiles.0.endValue")), 11, 1e-9);
        assert_float_equal(cJSON_GetNumberValue(item(doc, "profiles.1.endValue")), 10.5, 1e-9);
        cJSON_Delete(doc);
}

static void test_what_json_cannot_say(void **state)
{
        const char *inf_weight[] = {
                HEAD "\"profiles\":[{\"name\":\"a\",\"samples\":[[0]],\"weights\":[1e999]}],"
                     "\"shared\":{\"frames\":[{\"name\":\"f\",\"file\":\"x\"}]}}",
        };
        const char *sum_overflows[] = {
                HEAD "\"profiles\":[{\"name\":\"a\",\"samples\":[[0],[0]],\"weights\":[1e308,1e308]}],"
                     "\"shared\":{\"frames\":[{\"name\":\"f\",\"file\":\"x\"}]}}",
        };
        const char *inf_line[] = {
                HEAD "\"profiles\":[{\"name\":\"a\",\"samples\":[[0]],\"weights\":[0.01]}],"
                     "\"shared\":{\"frames\":[{\"name\":\"f\",\"file\":\"x\",\"line\":1e999}]}}",
        };
        MergeFacts facts = { 0 };
        cJSON *doc = NULL;

        assert_int_equal(merge(inf_weight, 1, &facts, &doc), -EBADMSG);
        assert_int_equal(merge(sum_overflows, 1, &facts, &doc), -EBADMSG);
        assert_int_equal(merge(inf_line, 1, &facts, &doc), 0);
        assert_null(item(doc, "shared.frames.0.line"));
        cJSON_Delete(doc);
}

static void test_facts_of_one_run(void **state)
{
        int fd = memfd_of(HEAD "\"profiles\":[{\"name\":\"a\",\"samples\":[[0],[0]],\"weights\":[1,2]},"
                               "{\"name\":\"b\",\"samples\":[],\"weights\":[]}],"
                               "\"shared\":{\"frames\":[{\"name\":\"f\",\"file\":\"x\"}]}}");
        MergeFacts facts = { 0 };

        assert_int_equal(profile_facts(fd, &facts), 0);
        assert_int_equal(facts.profiles, 2);
        assert_int_equal(facts.frames, 1);
        assert_int_equal(facts.samples, 2);
        assert_float_equal(facts.seconds, 3, 1e-9);
        close(fd);
        fd = memfd_of("[1, 2]");
        assert_int_equal(profile_facts(fd, &facts), -EBADMSG);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_runs),
                cmocka_unit_test(test_a_later_runs_thread_starts_when_its_run_did),
                cmocka_unit_test(test_what_json_cannot_say),
                cmocka_unit_test(test_facts_of_one_run),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
