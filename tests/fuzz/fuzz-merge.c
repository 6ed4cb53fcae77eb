/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the merge of a session's runs (common/profile/profile-merge.c).
 * The runs are py-spy's (or Austin's, converted) speedscope files, whose
 * names and paths are what PAM's memory says; the daemon merges them at
 * stop and when it recovers an interrupted session, in an unprivileged
 * child (daemon/profiler/merge-child.c).
 *
 * Input: up to four runs separated by "\n====\n", each a file; the first
 * byte picks the pids (a later PAM's threads are named "pid N: ...").
 * Per input:
 *  - profile_merge() of the runs never crashes; when it succeeds its
 *    document is JSON whose profiles and frames are the ones it counted,
 *    every sample's frame index is in range, samples and weights pair up
 *    when every run's did, and the threads' names are the profiles';
 *  - the speedscope reader takes the merged document without crashing;
 *  - profile_facts() of the first run tells what its merge alone counted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "profile-merge.h"
#include "speedscope-read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEPARATOR "\n====\n"
#define RUNS_MAX 4

static int memfd_of(const uint8_t *p, size_t n)
{
        int fd = memfd_create("fuzz-merge", MFD_CLOEXEC);

        if (fd < 0)
                abort();
        if (n > 0 && write(fd, p, n) != (ssize_t) n)
                abort();
        if (lseek(fd, 0, SEEK_SET) != 0)
                abort();
        return fd;
}

/* The next part of [*p, end): up to the separator or the end. */
static size_t next_part(const uint8_t **p, const uint8_t *end)
{
        const uint8_t *s = *p, *sep = memmem(s, (size_t) (end - s), SEPARATOR, strlen(SEPARATOR));

        if (!sep) {
                *p = end;
                return (size_t) (end - s);
        }
        *p = sep + strlen(SEPARATOR);
        return (size_t) (sep - s);
}

static char *read_all(int fd, size_t *ret_len)
{
        off_t len = lseek(fd, 0, SEEK_END);
        char *buf;

        if (len < 0 || !(buf = malloc((size_t) len + 1)) || pread(fd, buf, (size_t) len, 0) != len)
                abort();
        buf[len] = '\0';
        *ret_len = (size_t) len;
        return buf;
}

static int count_keys(const cJSON *o, const char *key)
{
        const cJSON *x;
        int n = 0;

        cJSON_ArrayForEach(x, o) n += x->string && strcmp(x->string, key) == 0;
        return n;
}

/*
 * Does every profile of the run have as many weights as samples, as py-spy writes them? A key
 * that comes twice is read as its first by cJSON and as its last by the merge: such a run says
 * nothing here.
 */
static bool pairs_up(const uint8_t *p, size_t n)
{
        cJSON *doc = cJSON_ParseWithLength((const char *) p, n), *prof;
        bool ok = cJSON_IsObject(doc) && count_keys(doc, "profiles") == 1;

        cJSON_ArrayForEach(prof, cJSON_GetObjectItemCaseSensitive(doc, "profiles"))
        {
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(prof, "samples");
                const cJSON *w = cJSON_GetObjectItemCaseSensitive(prof, "weights");
                const cJSON *x;
                if (count_keys(prof, "samples") != 1 || count_keys(prof, "weights") != 1 ||
                    !cJSON_IsArray(s) || !cJSON_IsArray(w) || cJSON_GetArraySize(s) != cJSON_GetArraySize(w))
                        ok = false;
                cJSON_ArrayForEach(x, s) ok &= cJSON_IsArray(x);
                cJSON_ArrayForEach(x, w) ok &= cJSON_IsNumber(x);
        }
        cJSON_Delete(doc);
        return ok;
}

/* Every frame index of every sample is one of the n frames written. */
static bool indices_in_range(const cJSON *samples, size_t n)
{
        const cJSON *stack, *k;

        cJSON_ArrayForEach(stack, samples)
        {
                cJSON_ArrayForEach(k, stack)
                {
                        if (!cJSON_IsNumber(k) || k->valuedouble < 0 || k->valuedouble >= (double) n)
                                return false;
                }
        }
        return true;
}

/* The merged document against what the merge said it wrote. */
static void check_document(const char *text, size_t len, const MergeFacts *facts, bool paired)
{
        cJSON *doc = cJSON_ParseWithLength(text, len), *prof, *names = facts->threads;
        const cJSON *frames =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "shared"), "frames");
        size_t n_frames = (size_t) cJSON_GetArraySize(frames), i = 0;
        SsModel *m = NULL;
        char *error = NULL;

        if (!cJSON_IsObject(doc) || !cJSON_IsArray(frames) || n_frames != facts->frames)
                abort(); /* what the merge writes is JSON, with the frames it counted */
        if ((size_t) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "profiles")) !=
                    facts->profiles ||
            (size_t) cJSON_GetArraySize(names) != facts->profiles)
                abort();
        cJSON_ArrayForEach(prof, cJSON_GetObjectItemCaseSensitive(doc, "profiles"))
        {
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(prof, "samples");
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(prof, "name");
                if (!cJSON_IsString(name) ||
                    strcmp(name->valuestring, cJSON_GetArrayItem(names, (int) i++)->valuestring))
                        abort();
                if (paired &&
                    cJSON_GetArraySize(s) !=
                            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(prof, "weights")))
                        abort();
                if (!indices_in_range(s, n_frames))
                        abort(); /* renumbered into the merged frames, or dropped */
        }
        cJSON_Delete(doc);
        (void) ss_read_mem(text, len, &m, &error); /* the report reads it next: no crash */
        ss_model_free(m);
        free(error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *p = data, *end = data + size;
        MergeInput in[RUNS_MAX];
        MergeFacts facts = { .threads = cJSON_CreateArray(), .sampler = "py-spy" };
        size_t n = 0, len;
        bool paired = true;
        char *text;
        int out, r;

        if (size > 256 * 1024 || !facts.threads)
                return 0;
        while (p < end && n < RUNS_MAX) {
                const uint8_t *start = p;
                size_t k = next_part(&p, end);
                paired &= pairs_up(start, k);
                in[n] = (MergeInput){ .fd = memfd_of(start, k),
                                      .pid = 100 + (size ? data[0] >> (n * 2) & 3 : 0) };
                n++;
        }
        out = memfd_of(NULL, 0);
        r = profile_merge(in, n, out, &facts);
        if (r >= 0) {
                text = read_all(out, &len);
                check_document(text, len, &facts, paired);
                free(text);
        }
        if (n > 0) {
                MergeFacts alone = { .threads = NULL }, told = { .threads = NULL };
                int a, b;
                close(out);
                out = memfd_of(NULL, 0);
                a = profile_merge(in, 1, out, &alone);
                b = profile_facts(in[0].fd, &told);
                if (a != b ||
                    (a >= 0 &&
                     (alone.profiles != told.profiles || alone.frames != told.frames ||
                      alone.samples != told.samples)))
                        abort(); /* profile_facts() is the merge of one run, written nowhere */
        }
        close(out);
        for (size_t i = 0; i < n; i++)
                close(in[i].fd);
        cJSON_Delete(facts.threads);
        return 0;
}
