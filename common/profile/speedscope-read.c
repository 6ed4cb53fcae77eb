/* SPDX-License-Identifier: MIT */
#include "speedscope-read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "speedscope-lex.h"

#define DEPTH_MAX 65536

typedef struct Reader {
        JsonLexer lx;
        SsModel *m;
        uint32_t *stack; /* one sample's frame indices */
        size_t stack_cap;
        char *name, *file; /* the frame being read */
        char **error;
        bool schema_seen, profiles_seen;
} Reader;

static int failf(Reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(Reader *r, int code, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL, *t = NULL;

        if (r->error && !*r->error) {
                va_start(ap, fmt);
                if (vasprintf(&s, fmt, ap) < 0)
                        s = NULL;
                va_end(ap);
                if (s &&
                    asprintf(&t, "%s (at byte %llu)", s, (unsigned long long) json_lex_offset(&r->lx)) < 0)
                        t = NULL;
                free(s);
                *r->error = t;
        }
        return code < 0 ? code : -EBADMSG;
}

/* The lexer's own failure, as a sentence. */
static int lex_failed(Reader *r)
{
        if (r->error && !*r->error && r->lx.message[0])
                *r->error = strdup(r->lx.message);
        return r->lx.error ? r->lx.error : -EBADMSG;
}

static int ended(Reader *r)
{
        return failf(r, -EBADMSG, "the file ends early, cut short (was py-spy stopped while writing it?)");
}

static int expect(Reader *r, JsonTok want, const char *what)
{
        JsonTok t = json_lex_next(&r->lx);

        if (t == JSON_TOK_ERROR)
                return lex_failed(r);
        if (t == JSON_TOK_END)
                return ended(r);
        if (t != want)
                return failf(r, -EBADMSG, "expected %s", what);
        return 0;
}

/*
 * Inside an object or an array: 1 with the next element's first token in
 * *ret (after its ',' when it is not the first), 0 at the closing token,
 * < 0 on error.
 */
static int next_element(Reader *r, bool *first, JsonTok close, const char *where, JsonTok *ret)
{
        JsonTok t = json_lex_next(&r->lx);

        if (t == JSON_TOK_ERROR)
                return lex_failed(r);
        if (t == JSON_TOK_END)
                return ended(r);
        if (t == close)
                return 0;
        if (!*first) {
                if (t != JSON_TOK_COMMA)
                        return failf(r, -EBADMSG, "expected ',' or '%c' in %s",
                                     close == JSON_TOK_OBJ_CLOSE ? '}' : ']', where);
                t = json_lex_next(&r->lx);
                if (t == JSON_TOK_ERROR)
                        return lex_failed(r);
        }
        *first = false;
        *ret = t;
        return 1;
}

/*
 * Inside an object: 1 with the next key in r->lx.str and its colon read,
 * 0 at the closing brace, < 0 on error.
 */
static int next_member(Reader *r, bool *first)
{
        JsonTok t, c;
        int k = next_element(r, first, JSON_TOK_OBJ_CLOSE, "an object", &t);

        if (k <= 0)
                return k;
        if (t != JSON_TOK_STRING)
                return failf(r, -EBADMSG, "expected a key");
        /* The colon is a token of its own: the key in lx.str survives it. */
        c = json_lex_next(&r->lx);
        if (c == JSON_TOK_ERROR)
                return lex_failed(r);
        if (c == JSON_TOK_END)
                return ended(r);
        if (c != JSON_TOK_COLON)
                return failf(r, -EBADMSG, "expected ':' after a key");
        return 1;
}

/* Inside an array: 1 with the next value's first token in *ret, 0 at ']', < 0 on error. */
static int next_item(Reader *r, bool *first, JsonTok *ret)
{
        return next_element(r, first, JSON_TOK_ARR_CLOSE, "an array", ret);
}

static int skip(Reader *r)
{
        JsonTok t = json_lex_next(&r->lx);

        if (json_lex_skip(&r->lx, t) < 0)
                return lex_failed(r);
        return 0;
}

/* Each item of an array gets its first token; ctx is the caller's, for state across items. */
typedef int (*ItemFunc)(Reader *r, JsonTok t, void *ctx);

/* The one loop over an array: '[' (what names it in the error), then every item to item(). */
static int read_array(Reader *r, const char *what, ItemFunc item, void *ctx)
{
        bool first = true;
        JsonTok t;
        int k;

        if ((k = expect(r, JSON_TOK_ARR_OPEN, what)) < 0)
                return k;
        while ((k = next_item(r, &first, &t)) > 0)
                if ((k = item(r, t, ctx)) < 0)
                        return k;
        return k;
}

/* A string (copied into *buf) or null (*buf freed to NULL). */
static int string_or_null(Reader *r, char **buf, const char *what)
{
        JsonTok t = json_lex_next(&r->lx);

        if (t == JSON_TOK_ERROR)
                return lex_failed(r);
        free(*buf);
        *buf = NULL;
        if (t == JSON_TOK_NULL)
                return 0;
        if (t != JSON_TOK_STRING)
                return failf(r, -EBADMSG, "%s must be a string", what);
        *buf = strdup(r->lx.str);
        return *buf ? 0 : -ENOMEM;
}

static int number_or_null(Reader *r, double *ret, const char *what)
{
        JsonTok t = json_lex_next(&r->lx);

        if (t == JSON_TOK_ERROR)
                return lex_failed(r);
        if (t == JSON_TOK_NULL) {
                *ret = NAN;
                return 0;
        }
        if (t != JSON_TOK_NUMBER)
                return failf(r, -EBADMSG, "%s must be a number", what);
        *ret = r->lx.num;
        return 0;
}

static int read_frame(Reader *r)
{
        bool first = true;
        double line = NAN;
        int k;

        free(r->name);
        free(r->file);
        r->name = r->file = NULL;
        while ((k = next_member(r, &first)) > 0) {
                int q;
                if (strcmp(r->lx.str, "name") == 0)
                        q = string_or_null(r, &r->name, "a frame's name");
                else if (strcmp(r->lx.str, "file") == 0)
                        q = string_or_null(r, &r->file, "a frame's file");
                else if (strcmp(r->lx.str, "line") == 0)
                        q = number_or_null(r, &line, "a frame's line");
                else
                        q = skip(r);
                if (q < 0)
                        return q;
        }
        if (k < 0)
                return k;
        if (!r->name)
                return failf(r, -EBADMSG, "frame %zu has no name", r->m->n_frames);
        return ss_model_add_frame(r->m, r->name, r->file, line > 0 && line < INT32_MAX ? (long) line : 0);
}

static int frame_item(Reader *r, JsonTok t, void *ctx)
{
        if (t != JSON_TOK_OBJ_OPEN)
                return failf(r, -EBADMSG, "a frame must be an object");
        return read_frame(r);
}

static int read_frames(Reader *r)
{
        return read_array(r, "shared.frames to be an array", frame_item, NULL);
}

static int read_shared(Reader *r)
{
        bool first = true;
        int k;

        if ((k = expect(r, JSON_TOK_OBJ_OPEN, "\"shared\" to be an object")) < 0)
                return k;
        while ((k = next_member(r, &first)) > 0) {
                int q = strcmp(r->lx.str, "frames") == 0 ? read_frames(r) : skip(r);
                if (q < 0)
                        return q;
        }
        return k;
}

static int sample_item(Reader *r, JsonTok t, void *ctx)
{
        long n;

        if (t != JSON_TOK_ARR_OPEN)
                return failf(r, -EBADMSG, "a sample must be an array of frame indices");
        n = json_lex_uint_array(&r->lx, &r->stack, &r->stack_cap, DEPTH_MAX);
        if (n < 0)
                return lex_failed(r);
        return ss_model_add_sample(r->m, r->stack, (size_t) n);
}

static int read_samples(Reader *r)
{
        return read_array(r, "\"samples\" to be an array", sample_item, NULL);
}

static int weight_item(Reader *r, JsonTok t, void *ctx)
{
        if (t != JSON_TOK_NUMBER || !isfinite(r->lx.num) || r->lx.num < 0)
                return failf(r, -EBADMSG, "a weight must be a number >= 0");
        return ss_model_add_weights(r->m, r->lx.num, 1);
}

static int read_weights(Reader *r)
{
        return read_array(r, "\"weights\" to be an array", weight_item, NULL);
}

/* An evented profile's open stack, from one event to the next. */
typedef struct Events {
        size_t depth;
        double last;
} Events;

/* One event's type ('O' or 'C'), time and frame. */
static int read_event(Reader *r, int *type, double *at, double *frame)
{
        bool first = true;
        int k;

        while ((k = next_member(r, &first)) > 0) {
                int q = 0;
                if (strcmp(r->lx.str, "type") == 0) {
                        JsonTok v = json_lex_next(&r->lx);
                        if (v != JSON_TOK_STRING || (strcmp(r->lx.str, "O") && strcmp(r->lx.str, "C")))
                                return v == JSON_TOK_ERROR ? lex_failed(r)
                                                           : failf(r, -EBADMSG, "an event's type is O or C");
                        *type = r->lx.str[0];
                } else if (strcmp(r->lx.str, "at") == 0)
                        q = number_or_null(r, at, "an event's \"at\"");
                else if (strcmp(r->lx.str, "frame") == 0)
                        q = number_or_null(r, frame, "an event's frame");
                else
                        q = skip(r);
                if (q < 0)
                        return q;
        }
        return k;
}

/* Evented: "O" pushes a frame, "C" pops it; the stack in between is held for the time between events. */
static int event_item(Reader *r, JsonTok t, void *ctx)
{
        Events *e = ctx;
        double at = NAN, frame = NAN;
        int type = 0, k;

        if (t != JSON_TOK_OBJ_OPEN)
                return failf(r, -EBADMSG, "an event must be an object");
        if ((k = read_event(r, &type, &at, &frame)) < 0)
                return k;
        if (!type || !isfinite(at) || !isfinite(frame) || frame < 0 || frame >= UINT32_MAX)
                return failf(r, -EBADMSG, "an event needs a type, a time and a frame");
        if (isfinite(e->last) && at < e->last)
                return failf(r, -EBADMSG, "events go back in time");
        if (e->depth > 0 && at > e->last &&
            (k = ss_model_add_timed(r->m, r->stack, e->depth, at - e->last)) < 0)
                return k;
        e->last = at;
        if (type == 'C') {
                if (e->depth == 0 || r->stack[e->depth - 1] != (uint32_t) frame)
                        return failf(r, -EBADMSG, "a close event does not match the open frame");
                e->depth--;
                return 0;
        }
        if (e->depth >= DEPTH_MAX)
                return failf(r, -E2BIG, "stack too deep");
        if (e->depth == r->stack_cap) {
                size_t cap = r->stack_cap ? r->stack_cap * 2 : 64;
                uint32_t *s = realloc(r->stack, cap * sizeof(uint32_t));
                if (!s)
                        return -ENOMEM;
                r->stack = s;
                r->stack_cap = cap;
        }
        r->stack[e->depth++] = (uint32_t) frame;
        return 0;
}

static int read_events(Reader *r)
{
        Events e = { .depth = 0, .last = NAN };

        return read_array(r, "\"events\" to be an array", event_item, &e);
}

static int read_profile(Reader *r)
{
        bool first = true;
        double start = 0, end = 0;
        int k;

        if ((k = ss_model_begin_profile(r->m)) < 0)
                return k;
        while ((k = next_member(r, &first)) > 0) {
                const char *key = r->lx.str;
                int q;
                if (strcmp(key, "type") == 0 || strcmp(key, "name") == 0 || strcmp(key, "unit") == 0) {
                        bool is_type = key[0] == 't', is_name = key[0] == 'n';
                        if ((q = expect(r, JSON_TOK_STRING,
                                        "a profile's type, name and unit to be strings")) < 0)
                                return q;
                        if (is_type) {
                                if (strcmp(r->lx.str, "sampled") && strcmp(r->lx.str, "evented"))
                                        return failf(r, -EBADMSG, "unknown profile type \"%s\"", r->lx.str);
                                ss_model_set_type(r->m, r->lx.str[0] == 'e');
                                q = 0;
                        } else if (is_name)
                                q = ss_model_set_name(r->m, r->lx.str);
                        else if (ss_model_set_unit(r->m, r->lx.str) < 0)
                                return failf(r, -EBADMSG, "unknown unit \"%s\"", r->lx.str);
                        else
                                q = 0;
                } else if (strcmp(key, "startValue") == 0)
                        q = number_or_null(r, &start, "startValue");
                else if (strcmp(key, "endValue") == 0)
                        q = number_or_null(r, &end, "endValue");
                else if (strcmp(key, "samples") == 0)
                        q = read_samples(r);
                else if (strcmp(key, "weights") == 0)
                        q = read_weights(r);
                else if (strcmp(key, "events") == 0)
                        q = read_events(r);
                else
                        q = skip(r);
                if (q < 0)
                        return q;
        }
        if (k < 0)
                return k;
        ss_model_set_range(r->m, start, end);
        return ss_model_end_profile(r->m, r->error);
}

static int profile_item(Reader *r, JsonTok t, void *ctx)
{
        if (t != JSON_TOK_OBJ_OPEN)
                return failf(r, -EBADMSG, "a profile must be an object");
        return read_profile(r);
}

static int read_profiles(Reader *r)
{
        r->profiles_seen = true;
        return read_array(r, "\"profiles\" to be an array", profile_item, NULL);
}

static int read_top(Reader *r)
{
        bool first = true;
        JsonTok t = json_lex_next(&r->lx);
        int k;

        if (t == JSON_TOK_ERROR)
                return lex_failed(r);
        if (t != JSON_TOK_OBJ_OPEN)
                return failf(r, -EBADMSG, "not a speedscope file: it does not start with a JSON object");
        while ((k = next_member(r, &first)) > 0) {
                const char *key = r->lx.str;
                int q;
                if (strcmp(key, "$schema") == 0) {
                        if ((q = expect(r, JSON_TOK_STRING, "$schema to be a string")) < 0)
                                return q;
                        if (!strstr(r->lx.str, "speedscope"))
                                return failf(r, -EBADMSG, "not a speedscope file: $schema is \"%s\"",
                                             r->lx.str);
                        r->schema_seen = true;
                        q = 0;
                } else if (strcmp(key, "shared") == 0)
                        q = read_shared(r);
                else if (strcmp(key, "profiles") == 0)
                        q = read_profiles(r);
                else if (strcmp(key, "exporter") == 0)
                        q = string_or_null(r, &r->m->exporter, "exporter");
                else if (strcmp(key, "name") == 0)
                        q = string_or_null(r, &r->m->name, "name");
                else
                        q = skip(r);
                if (q < 0)
                        return q;
        }
        if (k < 0)
                return k;
        t = json_lex_next(&r->lx);
        if (t == JSON_TOK_ERROR)
                return lex_failed(r);
        if (t != JSON_TOK_END)
                return failf(r, -EBADMSG, "text after the end of the JSON object");
        if (!r->schema_seen || !r->profiles_seen)
                return failf(r, -EBADMSG, "not a speedscope file: no %s",
                             r->schema_seen ? "profiles" : "$schema");
        return 0;
}

static int run(Reader *r, SsModel **ret, char **ret_error)
{
        int k;

        r->error = ret_error;
        r->m = ss_model_new();
        if (!r->m)
                k = -ENOMEM;
        else
                k = read_top(r);
        if (k == 0)
                k = ss_model_finish(r->m, ret_error);
        if (k == -ENOMEM && ret_error && !*ret_error)
                *ret_error = strdup("out of memory reading the profile");
        if (k == 0) {
                r->m->bytes = json_lex_offset(&r->lx);
                *ret = r->m;
        } else
                ss_model_free(r->m);
        json_lexer_done(&r->lx);
        free(r->stack);
        free(r->name);
        free(r->file);
        return k;
}

int ss_read_fd(int fd, SsModel **ret, char **ret_error)
{
        Reader r = { 0 };

        if (json_lexer_init_fd(&r.lx, fd, 0) < 0)
                return -ENOMEM;
        return run(&r, ret, ret_error);
}

int ss_read_mem(const char *data, size_t len, SsModel **ret, char **ret_error)
{
        Reader r = { 0 };

        json_lexer_init_mem(&r.lx, data, len);
        return run(&r, ret, ret_error);
}
