/* SPDX-License-Identifier: MIT */
/*
 * Merging speedscope files by streaming them (common/speedscope-lex.c): a
 * py-spy chunk of ten minutes at 100 Hz is tens of MB, and the daemon runs on
 * a Raspberry Pi, so no file is ever held in memory as a whole. Pass one over
 * each input notes its frames (de-duplicated into one table by name, file and
 * line) and where each profile's samples and weights arrays start; pass two
 * writes one profile per thread, copying each input's arrays in turn with
 * the frame indices renumbered.
 */
#include "profile-merge.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cleanup.h"
#include "speedscope-lex.h"
#include "strtab.h"

#define SAMPLE_DEPTH_MAX 4096

typedef struct Frame {
        const char *name, *file; /* into the key interned in FrameTable.keys */
        long line;               /* -1: null */
} Frame;

/* The merged frames, one for each distinct name, file and line. */
typedef struct FrameTable {
        StrTab keys; /* name NUL file NUL line: index i is frames[i]'s */
        Frame *frames;
        size_t n, cap;
} FrameTable;

typedef struct ProfRef {
        char *name; /* as written out */
        size_t input;
        uint64_t samples_off, weights_off; /* absolute offsets of '[' (UINT64_MAX: none) */
} ProfRef;

typedef struct Scan {
        uint32_t *map; /* input frame index -> merged index */
        size_t n_map;
        ProfRef *refs;
        size_t n_refs;
} Scan;

static long table_get(FrameTable *t, const char *name, const char *file, long line)
{
        size_t nn = strlen(name), nfile = strlen(file), len = nn + nfile + 2 + sizeof(line);
        _cleanup_free_ char *big = NULL;
        char small[512], *key = small;
        const char *k;
        bool fresh;
        long i;

        if (len > sizeof(small) && !(key = big = malloc(len)))
                return -ENOMEM;
        memcpy(key, name, nn + 1);
        memcpy(key + nn + 1, file, nfile + 1);
        memcpy(key + nn + nfile + 2, &line, sizeof(line));
        /* Room first: the table and the frames stay one to one whatever fails. */
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 256;
                Frame *nf = realloc(t->frames, cap * sizeof(Frame));
                if (!nf)
                        return -ENOMEM;
                t->frames = nf;
                t->cap = cap;
        }
        i = strtab_intern(&t->keys, key, len, &fresh);
        if (i < 0 || !fresh)
                return i < 0 ? -ENOMEM : i;
        k = strtab_get(&t->keys, (size_t) i);
        t->frames[t->n] = (Frame){ k, k + nn + 1, line };
        return (long) t->n++;
}

static void table_free(FrameTable *t)
{
        strtab_done(&t->keys);
        free(t->frames);
}

static void scan_free(Scan *s)
{
        for (size_t i = 0; i < s->n_refs; i++)
                free(s->refs[i].name);
        free(s->refs);
        free(s->map);
}

/* Expects "key": after an object's '{' or ','; 1 with the key in l->str, 0 at '}', -1 on error. */
static int next_key(JsonLexer *l)
{
        JsonTok t = json_lex_next(l);

        if (t == JSON_TOK_COMMA)
                t = json_lex_next(l);
        if (t == JSON_TOK_OBJ_CLOSE)
                return 0;
        if (t != JSON_TOK_STRING || json_lex_next(l) != JSON_TOK_COLON)
                return json_lex_fail(l, -EBADMSG, "expected a key");
        return 1;
}

static int read_frame(JsonLexer *l, FrameTable *t, Scan *s)
{
        _cleanup_free_ char *name = NULL, *file = NULL;
        long line = -1, idx;
        uint32_t *m;
        int k;

        while ((k = next_key(l)) > 0) {
                bool is_name = strcmp(l->str, "name") == 0, is_file = strcmp(l->str, "file") == 0;
                bool is_line = strcmp(l->str, "line") == 0;
                JsonTok v = json_lex_next(l);

                if ((is_name || is_file) && v == JSON_TOK_STRING) {
                        char **dst = is_name ? &name : &file;
                        free(*dst);
                        *dst = strdup(l->str);
                } else if (is_line && v == JSON_TOK_NUMBER)
                        /* 1e999 reads as inf, which no long holds: such a line is none */
                        line = l->num >= 0 && l->num < (double) LONG_MAX ? (long) l->num : -1;
                else if (json_lex_skip(l, v) < 0)
                        return -1;
        }
        if (k < 0)
                return -1;
        idx = table_get(t, name ? name : "", file ? file : "", line);
        if (idx < 0)
                return json_lex_fail(l, -ENOMEM, "out of memory");
        m = realloc(s->map, (s->n_map + 1) * sizeof(uint32_t));
        if (!m)
                return json_lex_fail(l, -ENOMEM, "out of memory");
        s->map = m;
        s->map[s->n_map++] = (uint32_t) idx;
        return 0;
}

static int read_frames(JsonLexer *l, FrameTable *t, Scan *s)
{
        JsonTok tok = json_lex_next(l);

        if (tok != JSON_TOK_ARR_OPEN)
                return json_lex_skip(l, tok);
        for (;;) {
                tok = json_lex_next(l);
                if (tok == JSON_TOK_COMMA)
                        continue;
                if (tok == JSON_TOK_ARR_CLOSE)
                        return 0;
                if (tok != JSON_TOK_OBJ_OPEN || read_frame(l, t, s) < 0)
                        return json_lex_fail(l, -EBADMSG, "a frame is not an object");
        }
}

static int read_profile(JsonLexer *l, uint64_t base, size_t input, pid_t pid, pid_t first, Scan *s)
{
        ProfRef r = { .input = input, .samples_off = UINT64_MAX, .weights_off = UINT64_MAX };
        ProfRef *nr;
        int k;

        while ((k = next_key(l)) > 0) {
                uint64_t at = base + json_lex_offset(l);
                bool samples = strcmp(l->str, "samples") == 0, weights = strcmp(l->str, "weights") == 0;
                bool name = strcmp(l->str, "name") == 0;
                JsonTok v = json_lex_next(l);

                if (name && v == JSON_TOK_STRING) {
                        free(r.name);
                        if (pid != first ? asprintf(&r.name, "pid %d: %s", (int) pid, l->str) < 0
                                         : !(r.name = strdup(l->str)))
                                r.name = NULL;
                        continue;
                }
                if (samples)
                        r.samples_off = at;
                if (weights)
                        r.weights_off = at;
                if (json_lex_skip(l, v) < 0) {
                        free(r.name);
                        return -1;
                }
        }
        if (k < 0 || !r.name) {
                free(r.name);
                return k < 0 ? -1 : 0;
        }
        nr = realloc(s->refs, (s->n_refs + 1) * sizeof(ProfRef));
        if (!nr) {
                free(r.name);
                return json_lex_fail(l, -ENOMEM, "out of memory");
        }
        s->refs = nr;
        s->refs[s->n_refs++] = r;
        return 0;
}

/* Pass one over one input. */
static int scan_input(int fd, size_t input, pid_t pid, pid_t first, FrameTable *t, Scan *s)
{
        JsonLexer l;
        JsonTok tok;
        int k, r = 0;

        if (lseek(fd, 0, SEEK_SET) < 0 || json_lexer_init_fd(&l, fd, 0) < 0)
                return -errno ? -errno : -ENOMEM;
        if (json_lex_next(&l) != JSON_TOK_OBJ_OPEN)
                r = json_lex_fail(&l, -EBADMSG, "not a JSON object");
        while (r >= 0 && (k = next_key(&l)) > 0) {
                if (strcmp(l.str, "profiles") == 0) {
                        tok = json_lex_next(&l);
                        if (tok != JSON_TOK_ARR_OPEN) {
                                r = json_lex_skip(&l, tok);
                                continue;
                        }
                        while (r >= 0 && (tok = json_lex_next(&l)) != JSON_TOK_ARR_CLOSE) {
                                if (tok == JSON_TOK_COMMA)
                                        continue;
                                r = tok == JSON_TOK_OBJ_OPEN ? read_profile(&l, 0, input, pid, first, s)
                                                             : json_lex_fail(&l, -EBADMSG, "bad profile");
                        }
                } else if (strcmp(l.str, "shared") == 0) {
                        if (json_lex_next(&l) != JSON_TOK_OBJ_OPEN) {
                                r = json_lex_fail(&l, -EBADMSG, "shared is not an object");
                                break;
                        }
                        while (r >= 0 && (k = next_key(&l)) > 0)
                                r = strcmp(l.str, "frames") == 0 ? read_frames(&l, t, s)
                                                                 : json_lex_skip(&l, json_lex_next(&l));
                        if (k < 0)
                                r = -1;
                } else
                        r = json_lex_skip(&l, json_lex_next(&l));
        }
        if (r >= 0 && k < 0)
                r = -1;
        if (r < 0)
                r = l.error ? l.error : -EBADMSG;
        json_lexer_done(&l);
        return r;
}

static void write_json_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

/* Copies one input's samples array (renumbered) or weights array; *first tracks commas across inputs. */
static int copy_array(int fd, uint64_t off, const Scan *s, bool samples, FILE *out, bool *first, double *sum,
                      size_t *count)
{
        _cleanup_free_ uint32_t *buf = NULL;
        size_t cap = 0;
        JsonLexer l;
        JsonTok tok;
        int r = 0;

        if (off == UINT64_MAX)
                return 0;
        if (lseek(fd, (off_t) off, SEEK_SET) < 0 || json_lexer_init_fd(&l, fd, 0) < 0)
                return -EIO;
        if (json_lex_next(&l) != JSON_TOK_ARR_OPEN)
                r = -EBADMSG;
        while (r >= 0 && (tok = json_lex_next(&l)) != JSON_TOK_ARR_CLOSE) {
                if (tok == JSON_TOK_COMMA)
                        continue;
                if (!*first)
                        fputc(',', out);
                *first = false;
                if (samples && tok == JSON_TOK_ARR_OPEN) {
                        long n = json_lex_uint_array(&l, &buf, &cap, SAMPLE_DEPTH_MAX);
                        if (n < 0) {
                                r = -EBADMSG;
                                break;
                        }
                        fputc('[', out);
                        for (long i = 0, w = 0; i < n; i++) {
                                if (buf[i] >= s->n_map)
                                        continue; /* out of range in the input: dropped, not invented */
                                fprintf(out, w++ ? ",%u" : "%u", s->map[buf[i]]);
                        }
                        fputc(']', out);
                        (*count)++;
                } else if (!samples && tok == JSON_TOK_NUMBER && isfinite(l.num) && isfinite(*sum + l.num)) {
                        /* 1e999 reads as inf, which JSON cannot say: such a run is refused, not copied */
                        fprintf(out, "%.9g", l.num);
                        *sum += l.num;
                        (*count)++;
                } else
                        r = -EBADMSG;
        }
        json_lexer_done(&l);
        return r;
}

/* A later run's thread is placed at that run's start when it lies this far past the thread's end. */
#define LEAD_MIN 0.001 /* seconds */

static int write_merged(const MergeInput *in, size_t n, Scan *scans, const FrameTable *t, FILE *out,
                        MergeFacts *facts)
{
        const char *sampler = facts->sampler ? facts->sampler : "py-spy";
        bool first_profile = true;
        _cleanup_free_ bool *pad = NULL; /* per piece of the thread being written: a lead before it */
        size_t pieces = 0;
        char text[96];
        int r = 0;

        for (size_t i = 0; i < n; i++)
                pieces += scans[i].n_refs;
        pad = calloc(pieces ? pieces : 1, sizeof(bool));
        if (!pad)
                return -ENOMEM;

        fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"profiles\":[", out);
        /* One profile per name, in order of first appearance; each name written once. */
        for (size_t i = 0; i < n && r >= 0; i++)
                for (size_t j = 0; j < scans[i].n_refs && r >= 0; j++) {
                        const char *name = scans[i].refs[j].name;
                        bool seen = false, first = true;
                        double seconds = 0;
                        size_t samples = 0, weights = 0;

                        for (size_t a = 0; a <= i && !seen; a++)
                                for (size_t b = 0; b < (a == i ? j : scans[a].n_refs) && !seen; b++)
                                        seen = strcmp(scans[a].refs[b].name, name) == 0;
                        if (seen)
                                continue;
                        fprintf(out, "%s{\"type\":\"sampled\",\"name\":", first_profile ? "" : ",");
                        first_profile = false;
                        write_json_string(out, name);
                        /* Weights first (the keys' order is free): each piece's length, so that a
                         * thread first seen in a later run begins when that run did. */
                        fputs(",\"unit\":\"seconds\",\"startValue\":0,\"weights\":[", out);
                        for (size_t a = i, k = 0; a < n && r >= 0; a++)
                                for (size_t b = 0; b < scans[a].n_refs && r >= 0; b++) {
                                        double lead = in[a].start - in[0].start - seconds;

                                        if (strcmp(scans[a].refs[b].name, name) != 0)
                                                continue;
                                        pad[k] = isfinite(lead) && lead >= LEAD_MIN;
                                        if (pad[k]) {
                                                fprintf(out, "%s%.9g", first ? "" : ",", lead);
                                                first = false;
                                                seconds += lead;
                                        }
                                        k++;
                                        r = copy_array(in[a].fd, scans[a].refs[b].weights_off, &scans[a],
                                                       false, out, &first, &seconds, &weights);
                                }
                        fputs("],\"samples\":[", out);
                        first = true;
                        for (size_t a = i, k = 0; a < n && r >= 0; a++)
                                for (size_t b = 0; b < scans[a].n_refs && r >= 0; b++) {
                                        if (strcmp(scans[a].refs[b].name, name) != 0)
                                                continue;
                                        if (pad[k++]) {
                                                fputs(first ? "[]" : ",[]", out);
                                                first = false;
                                                samples++; /* counted as the file has it, as the gaps are */
                                        }
                                        r = copy_array(in[a].fd, scans[a].refs[b].samples_off, &scans[a],
                                                       true, out, &first, NULL, &samples);
                                }
                        fprintf(out, "],\"endValue\":%.9g}", seconds);
                        facts->profiles++;
                        facts->samples += samples;
                        if (seconds > facts->seconds)
                                facts->seconds = seconds;
                        if (facts->threads)
                                cJSON_AddItemToArray(facts->threads, cJSON_CreateString(name));
                }
        fputs("],\"shared\":{\"frames\":[", out);
        for (size_t i = 0; i < t->n; i++) {
                fputs(i ? ",{\"name\":" : "{\"name\":", out);
                write_json_string(out, t->frames[i].name);
                fputs(",\"file\":", out);
                write_json_string(out, t->frames[i].file);
                /* py-spy writes "col": null and "line": null; speedscope's schema wants numbers or nothing. */
                if (t->frames[i].line >= 0)
                        fprintf(out, ",\"line\":%ld", t->frames[i].line);
                fputc('}', out);
        }
        facts->frames = t->n;
        fputs("]},", out);
        if (facts->profiles > 0)
                fputs("\"activeProfileIndex\":0,", out);
        fputs("\"exporter\":", out);
        snprintf(text, sizeof(text), "pamprofd (%s runs merged)", sampler);
        write_json_string(out, text);
        fputs(",\"name\":", out);
        snprintf(text, sizeof(text), "%s profile", sampler);
        write_json_string(out, text);
        fputs("}\n", out);
        return r;
}

static int merge_to(const MergeInput *in, size_t n, FILE *out, MergeFacts *facts)
{
        FrameTable t = { 0 };
        Scan *scans = calloc(n ? n : 1, sizeof(Scan));
        int r = scans ? 0 : -ENOMEM;

        for (size_t i = 0; i < n && r >= 0; i++)
                r = scan_input(in[i].fd, i, in[i].pid, in[0].pid, &t, &scans[i]);
        if (r >= 0)
                r = write_merged(in, n, scans, &t, out, facts);
        for (size_t i = 0; scans && i < n; i++)
                scan_free(&scans[i]);
        free(scans);
        table_free(&t);
        return r;
}

int profile_merge(const MergeInput *in, size_t n, int out_fd, MergeFacts *ret_facts)
{
        MergeFacts facts = { .threads = ret_facts ? ret_facts->threads : NULL,
                             .sampler = ret_facts ? ret_facts->sampler : NULL };
        int dup_fd = dup(out_fd), r;
        FILE *out;

        if (dup_fd < 0)
                return -errno;
        out = fdopen(dup_fd, "we");
        if (!out) {
                close(dup_fd);
                return -errno;
        }
        r = merge_to(in, n, out, &facts);
        if (fflush(out) != 0 && r >= 0)
                r = -errno;
        if (fclose(out) != 0 && r >= 0)
                r = -EIO;
        if (ret_facts)
                *ret_facts = facts;
        return r;
}

int profile_facts(int fd, MergeFacts *ret)
{
        FILE *null = fopen("/dev/null", "we");
        MergeInput in = { .fd = fd };
        MergeFacts facts = { .threads = ret->threads, .sampler = ret->sampler };
        int r;

        if (!null)
                return -errno;
        r = merge_to(&in, 1, null, &facts);
        fclose(null);
        *ret = facts;
        return r;
}
