/* SPDX-License-Identifier: MIT */
#include "profile-merge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cleanup.h"
#include "fs-util.h"

static int read_json(int fd, size_t max, cJSON **ret)
{
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        if (fstat(fd, &st) < 0)
                return -errno;
        if ((size_t) st.st_size > max)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t n = pread(fd, buf + len, (size_t) st.st_size - len, (off_t) len);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret = cJSON_ParseWithLength(buf, len);
        return *ret ? 0 : -EBADMSG;
}

static double array_sum(const cJSON *a)
{
        const cJSON *v;
        double s = 0;

        cJSON_ArrayForEach(v, a) if (cJSON_IsNumber(v)) s += v->valuedouble;
        return s;
}

int profile_facts(int fd, size_t max_bytes, MergeFacts *ret, cJSON **ret_threads)
{
        cJSON *doc = NULL, *threads = cJSON_CreateArray(), *p;
        int r = read_json(fd, max_bytes, &doc);

        *ret = (MergeFacts) {};
        if (r < 0) {
                cJSON_Delete(threads);
                return r;
        }
        ret->frames = (size_t) cJSON_GetArraySize(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "shared"), "frames"));
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "profiles"))
        {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
                double secs = array_sum(cJSON_GetObjectItemCaseSensitive(p, "weights"));

                ret->profiles++;
                ret->samples += (size_t) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "samples"));
                if (secs > ret->seconds)
                        ret->seconds = secs;
                if (cJSON_IsString(name))
                        cJSON_AddItemToArray(threads, cJSON_CreateString(name->valuestring));
        }
        cJSON_Delete(doc);
        if (ret_threads)
                *ret_threads = threads;
        else
                cJSON_Delete(threads);
        return 0;
}

/* frame key -> merged index: a small open-addressing table over "name\tfile\tline". */
typedef struct FrameTable {
        char **keys;
        size_t *index;
        size_t cap, n;
} FrameTable;

static size_t hash(const char *s)
{
        size_t h = 1469598103934665603ULL;

        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ULL;
        return h;
}

static int table_grow(FrameTable *t)
{
        FrameTable n = { .cap = t->cap ? t->cap * 2 : 1024 };

        n.keys = calloc(n.cap, sizeof(char *));
        n.index = calloc(n.cap, sizeof(size_t));
        if (!n.keys || !n.index) {
                free(n.keys);
                free(n.index);
                return -ENOMEM;
        }
        for (size_t i = 0; i < t->cap; i++) {
                size_t h;
                if (!t->keys[i])
                        continue;
                for (h = hash(t->keys[i]) % n.cap; n.keys[h]; h = (h + 1) % n.cap)
                        ;
                n.keys[h] = t->keys[i];
                n.index[h] = t->index[i];
        }
        n.n = t->n;
        free(t->keys);
        free(t->index);
        *t = n;
        return 0;
}

/* The merged index of key, adding it (and its frame object) when new. */
static long table_get(FrameTable *t, const char *key, cJSON *frame, cJSON *frames)
{
        size_t h;

        if ((t->n + 1) * 2 > t->cap && table_grow(t) < 0)
                return -ENOMEM;
        for (h = hash(key) % t->cap; t->keys[h]; h = (h + 1) % t->cap)
                if (strcmp(t->keys[h], key) == 0)
                        return (long) t->index[h];
        t->keys[h] = strdup(key);
        if (!t->keys[h])
                return -ENOMEM;
        t->index[h] = t->n++;
        cJSON_AddItemToArray(frames, cJSON_Duplicate(frame, true));
        return (long) t->index[h];
}

static void table_free(FrameTable *t)
{
        for (size_t i = 0; i < t->cap; i++)
                free(t->keys[i]);
        free(t->keys);
        free(t->index);
}

static char *frame_key(const cJSON *f)
{
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(f, "file");
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(f, "line");
        char *k = NULL;

        if (asprintf(&k, "%s\t%s\t%.0f", cJSON_IsString(name) ? name->valuestring : "",
                     cJSON_IsString(file) ? file->valuestring : "", cJSON_IsNumber(line) ? line->valuedouble : -1) < 0)
                return NULL;
        return k;
}

static cJSON *find_profile(cJSON *profiles, const char *name)
{
        cJSON *p;

        cJSON_ArrayForEach(p, profiles)
        {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "name");
                if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
                        return p;
        }
        return NULL;
}

static cJSON *new_profile(const char *name)
{
        cJSON *p = cJSON_CreateObject();

        cJSON_AddStringToObject(p, "type", "sampled");
        cJSON_AddStringToObject(p, "name", name);
        cJSON_AddStringToObject(p, "unit", "seconds");
        cJSON_AddNumberToObject(p, "startValue", 0);
        cJSON_AddNumberToObject(p, "endValue", 0);
        cJSON_AddArrayToObject(p, "samples");
        cJSON_AddArrayToObject(p, "weights");
        return p;
}

/* Appends one input's profiles to the merged document, re-indexing frames. */
static int merge_one(cJSON *doc, FrameTable *t, cJSON *in, pid_t pid, pid_t first_pid)
{
        cJSON *frames = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "shared"), "frames");
        cJSON *src_frames = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(in, "shared"), "frames");
        int n = cJSON_GetArraySize(src_frames);
        _cleanup_free_ long *map = calloc((size_t) n + 1, sizeof(long));
        cJSON *p, *f;
        int i = 0;

        if (!map)
                return -ENOMEM;
        cJSON_ArrayForEach(f, src_frames)
        {
                _cleanup_free_ char *key = frame_key(f);
                if (!key || (map[i++] = table_get(t, key, f, frames)) < 0)
                        return -ENOMEM;
        }
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(in, "profiles"))
        {
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(p, "name");
                const cJSON *s, *w;
                char name[512];
                cJSON *dst;

                snprintf(name, sizeof(name), "%s%s", "", cJSON_IsString(nm) ? nm->valuestring : "thread");
                if (pid != first_pid)
                        snprintf(name, sizeof(name), "pid %d: %s", (int) pid,
                                 cJSON_IsString(nm) ? nm->valuestring : "thread");
                dst = find_profile(cJSON_GetObjectItemCaseSensitive(doc, "profiles"), name);
                if (!dst) {
                        dst = new_profile(name);
                        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(doc, "profiles"), dst);
                }
                cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(p, "samples"))
                {
                        cJSON *stack = cJSON_CreateArray(), *idx;
                        cJSON_ArrayForEach(idx, s)
                        {
                                int k = cJSON_IsNumber(idx) ? idx->valueint : -1;
                                if (k < 0 || k >= n)
                                        continue; /* out of range in the input: dropped, not invented */
                                cJSON_AddItemToArray(stack, cJSON_CreateNumber((double) map[k]));
                        }
                        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(dst, "samples"), stack);
                }
                cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(p, "weights"))
                        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(dst, "weights"),
                                             cJSON_CreateNumber(w->valuedouble));
                cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(dst, "endValue"),
                                     array_sum(cJSON_GetObjectItemCaseSensitive(dst, "weights")));
        }
        return 0;
}

int profile_merge(const MergeInput *in, size_t n, int out_fd, size_t max_bytes, MergeFacts *ret_facts)
{
        _cleanup_free_ char *text = NULL;
        FrameTable t = {};
        cJSON *doc;
        size_t total = 0;
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                struct stat st;
                if (fstat(in[i].fd, &st) < 0)
                        return -errno;
                total += (size_t) st.st_size;
        }
        if (total > max_bytes)
                return -EFBIG;
        doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "$schema", "https://www.speedscope.app/file-format-schema.json");
        cJSON_AddArrayToObject(doc, "profiles");
        cJSON_AddArrayToObject(cJSON_AddObjectToObject(doc, "shared"), "frames");
        cJSON_AddNullToObject(doc, "activeProfileIndex");
        cJSON_AddStringToObject(doc, "exporter", "pamprofd (merged py-spy runs)");
        cJSON_AddStringToObject(doc, "name", "py-spy profile");
        for (size_t i = 0; i < n && r >= 0; i++) {
                cJSON *one = NULL;
                r = read_json(in[i].fd, max_bytes, &one);
                if (r >= 0)
                        r = merge_one(doc, &t, one, in[i].pid, in[0].pid);
                cJSON_Delete(one);
        }
        table_free(&t);
        if (r >= 0) {
                text = cJSON_PrintUnformatted(doc);
                r = text ? write_all(out_fd, text, strlen(text)) : -ENOMEM;
                if (r >= 0)
                        r = write_all(out_fd, "\n", 1);
        }
        if (r >= 0 && ret_facts) {
                cJSON *p;
                *ret_facts = (MergeFacts) {
                        .frames = (size_t) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetObjectItemCaseSensitive(doc, "shared"), "frames")),
                };
                cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "profiles"))
                {
                        double secs = array_sum(cJSON_GetObjectItemCaseSensitive(p, "weights"));
                        ret_facts->profiles++;
                        ret_facts->samples +=
                                (size_t) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "samples"));
                        if (secs > ret_facts->seconds)
                                ret_facts->seconds = secs;
                }
        }
        cJSON_Delete(doc);
        return r;
}
