/* SPDX-License-Identifier: MIT */
#include "speedscope-lex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strtod-c.h"

#define BLOCK_DEFAULT (256 * 1024)
#define STRING_MAX_DEFAULT (1024 * 1024)
#define NUMBER_MAX 64

int json_lexer_init_fd(JsonLexer *l, int fd, size_t block_size)
{
        memset(l, 0, sizeof(*l));
        l->fd = fd;
        l->size = block_size ? block_size : BLOCK_DEFAULT;
        l->buf = malloc(l->size);
        l->max_string = STRING_MAX_DEFAULT;
        if (!l->buf)
                return -ENOMEM;
        return 0;
}

void json_lexer_init_mem(JsonLexer *l, const char *data, size_t len)
{
        memset(l, 0, sizeof(*l));
        l->fd = -1;
        l->buf = (unsigned char *) data;
        l->size = l->len = len;
        l->eof = true;
        l->max_string = STRING_MAX_DEFAULT;
}

void json_lexer_done(JsonLexer *l)
{
        if (l->fd >= 0)
                free(l->buf);
        free(l->str);
        l->buf = NULL;
        l->str = NULL;
}

uint64_t json_lex_offset(const JsonLexer *l)
{
        return l->offset + l->pos;
}

int json_lex_fail(JsonLexer *l, int r, const char *what)
{
        if (l->error)
                return -1; /* keep the first reason */
        l->error = r < 0 ? r : -EBADMSG;
        snprintf(l->message, sizeof(l->message), "%s at byte %llu", what,
                 (unsigned long long) json_lex_offset(l));
        return -1;
}

/* >0: bytes now available; 0: end of input; -1: read error (l->error set). */
static int refill(JsonLexer *l)
{
        ssize_t n;

        if (l->pos < l->len)
                return 1;
        if (l->eof || l->fd < 0)
                return 0;
        l->offset += l->len;
        l->pos = l->len = 0;
        do
                n = read(l->fd, l->buf, l->size);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                int r = -errno;
                json_lex_fail(l, r, "read error");
                snprintf(l->message, sizeof(l->message), "cannot read: %s", strerror(-r));
                return -1;
        }
        if (n == 0) {
                l->eof = true;
                return 0;
        }
        l->len = (size_t) n;
        return 1;
}

/* The next byte, not consumed; -1 at the end, -2 on a read error. */
static inline int peek(JsonLexer *l)
{
        int r;

        if (l->pos < l->len)
                return l->buf[l->pos];
        r = refill(l);
        if (r <= 0)
                return r == 0 ? -1 : -2;
        return l->buf[l->pos];
}

static int str_reserve(JsonLexer *l, size_t extra)
{
        size_t need = l->str_len + extra + 1, cap;
        char *s;

        if (need <= l->str_cap)
                return 0;
        if (need > l->max_string + 1)
                return json_lex_fail(l, -E2BIG, "string too long");
        cap = l->str_cap ? l->str_cap : 256;
        while (cap < need)
                cap *= 2;
        s = realloc(l->str, cap);
        if (!s)
                return json_lex_fail(l, -ENOMEM, "out of memory");
        l->str = s;
        l->str_cap = cap;
        return 0;
}

static int str_put_utf8(JsonLexer *l, uint32_t cp)
{
        char *p;

        if (str_reserve(l, 4) < 0)
                return -1;
        p = l->str + l->str_len;
        if (cp < 0x80) {
                p[0] = (char) cp;
                l->str_len += 1;
        } else if (cp < 0x800) {
                p[0] = (char) (0xC0 | (cp >> 6));
                p[1] = (char) (0x80 | (cp & 0x3F));
                l->str_len += 2;
        } else if (cp < 0x10000) {
                p[0] = (char) (0xE0 | (cp >> 12));
                p[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                p[2] = (char) (0x80 | (cp & 0x3F));
                l->str_len += 3;
        } else {
                p[0] = (char) (0xF0 | (cp >> 18));
                p[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
                p[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
                p[3] = (char) (0x80 | (cp & 0x3F));
                l->str_len += 4;
        }
        return 0;
}

static int hex4(JsonLexer *l, uint32_t *ret)
{
        uint32_t v = 0;

        for (int i = 0; i < 4; i++) {
                int c = peek(l);
                if (c >= '0' && c <= '9')
                        v = v * 16 + (uint32_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v = v * 16 + (uint32_t) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v = v * 16 + (uint32_t) (c - 'A' + 10);
                else
                        return json_lex_fail(l, c == -2 ? l->error : -EBADMSG, "bad \\u escape");
                l->pos++;
        }
        *ret = v;
        return 0;
}

static int unicode_escape(JsonLexer *l)
{
        uint32_t cp, lo;

        if (hex4(l, &cp) < 0)
                return -1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate wants "\uDC00".."\uDFFF" next; alone it becomes U+FFFD. */
                if (peek(l) == '\\') {
                        l->pos++;
                        if (peek(l) != 'u')
                                return json_lex_fail(l, -EBADMSG, "bad escape after a surrogate");
                        l->pos++;
                        if (hex4(l, &lo) < 0)
                                return -1;
                        if (lo >= 0xDC00 && lo <= 0xDFFF)
                                return str_put_utf8(l, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                        if (str_put_utf8(l, 0xFFFD) < 0)
                                return -1;
                        cp = lo;
                } else
                        cp = 0xFFFD;
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
                cp = 0xFFFD; /* a lone surrogate, or a NUL that would cut the C string */
        return str_put_utf8(l, cp);
}

static JsonTok lex_string(JsonLexer *l)
{
        l->pos++; /* the opening quote */
        l->str_len = 0;
        for (;;) {
                const unsigned char *p, *start, *end;
                int c = peek(l);

                if (c < 0) {
                        json_lex_fail(l, c == -2 ? l->error : -EBADMSG,
                                      "the file ends early, inside a string");
                        return JSON_TOK_ERROR;
                }
                start = p = l->buf + l->pos;
                end = l->buf + l->len;
                while (p < end && *p != '"' && *p != '\\' && *p >= 0x20)
                        p++;
                if (p > start) {
                        if (str_reserve(l, (size_t) (p - start)) < 0)
                                return JSON_TOK_ERROR;
                        memcpy(l->str + l->str_len, start, (size_t) (p - start));
                        l->str_len += (size_t) (p - start);
                        l->pos += (size_t) (p - start);
                        continue;
                }
                if (c == '"') {
                        l->pos++;
                        if (str_reserve(l, 0) < 0)
                                return JSON_TOK_ERROR;
                        l->str[l->str_len] = '\0';
                        return JSON_TOK_STRING;
                }
                if (c < 0x20) {
                        json_lex_fail(l, -EBADMSG, "control character in a string");
                        return JSON_TOK_ERROR;
                }
                /* a backslash */
                l->pos++;
                c = peek(l);
                if (c < 0) {
                        json_lex_fail(l, c == -2 ? l->error : -EBADMSG, "unterminated string");
                        return JSON_TOK_ERROR;
                }
                l->pos++;
                if (c == 'u') {
                        if (unicode_escape(l) < 0)
                                return JSON_TOK_ERROR;
                        continue;
                }
                switch (c) {
                case '"':
                case '\\':
                case '/':
                        break;
                case 'b':
                        c = '\b';
                        break;
                case 'f':
                        c = '\f';
                        break;
                case 'n':
                        c = '\n';
                        break;
                case 'r':
                        c = '\r';
                        break;
                case 't':
                        c = '\t';
                        break;
                default:
                        json_lex_fail(l, -EBADMSG, "bad escape in a string");
                        return JSON_TOK_ERROR;
                }
                if (str_reserve(l, 1) < 0)
                        return JSON_TOK_ERROR;
                l->str[l->str_len++] = (char) c;
        }
}

static bool is_digit(int c)
{
        return c >= '0' && c <= '9';
}

/* Appends digits to nb; returns how many. */
/* Moves one character of a number into nb, keeping room for the NUL. */
static bool take_char(JsonLexer *l, char *nb, size_t *n, char c)
{
        if (*n >= NUMBER_MAX - 1) {
                json_lex_fail(l, -EBADMSG, "number too long");
                return false;
        }
        nb[(*n)++] = c;
        l->pos++;
        return true;
}

static int take_digits(JsonLexer *l, char *nb, size_t *n)
{
        int count = 0, c;

        while (is_digit(c = peek(l))) {
                if (!take_char(l, nb, n, (char) c))
                        return -1;
                count++;
        }
        return c == -2 ? -1 : count;
}

static JsonTok lex_number(JsonLexer *l)
{
        char nb[NUMBER_MAX];
        size_t n = 0;
        bool integer = true, neg = false;
        int c, d;

        if (peek(l) == '-') {
                take_char(l, nb, &n, '-');
                neg = true;
        }
        c = peek(l);
        if (c == '0') {
                take_char(l, nb, &n, '0');
                if (is_digit(peek(l)))
                        goto bad;
        } else if (!is_digit(c) || take_digits(l, nb, &n) <= 0)
                goto bad;
        if (peek(l) == '.') {
                integer = false;
                if (!take_char(l, nb, &n, '.') || take_digits(l, nb, &n) <= 0)
                        goto bad;
        }
        c = peek(l);
        if (c == 'e' || c == 'E') {
                integer = false;
                if (!take_char(l, nb, &n, 'e'))
                        goto bad;
                c = peek(l);
                if ((c == '+' || c == '-') && !take_char(l, nb, &n, (char) c))
                        goto bad;
                if (take_digits(l, nb, &n) <= 0)
                        goto bad;
        }
        nb[n] = '\0';
        l->num_is_uint = false;
        if (integer && !neg && n <= 19) {
                uint64_t v = 0;
                for (size_t i = 0; i < n; i++)
                        v = v * 10 + (uint64_t) (nb[i] - '0');
                l->num_uint = v;
                l->num_is_uint = true;
                l->num = (double) v;
                return JSON_TOK_NUMBER;
        }
        l->num = strtod_c(nb, NULL);
        return JSON_TOK_NUMBER;
bad:
        d = peek(l);
        json_lex_fail(l, d == -2 ? l->error : -EBADMSG, "bad number");
        return JSON_TOK_ERROR;
}

static JsonTok lex_literal(JsonLexer *l, const char *word, JsonTok tok)
{
        for (const char *w = word; *w; w++) {
                int c = peek(l);
                if (c != *w) {
                        json_lex_fail(l, c == -2 ? l->error : -EBADMSG, "unexpected character");
                        return JSON_TOK_ERROR;
                }
                l->pos++;
        }
        return tok;
}

JsonTok json_lex_next(JsonLexer *l)
{
        int c;

        if (l->error)
                return JSON_TOK_ERROR;
        for (;;) {
                c = peek(l);
                if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
                        break;
                l->pos++;
        }
        switch (c) {
        case -1:
                return JSON_TOK_END;
        case -2:
                return JSON_TOK_ERROR;
        case '{':
                l->pos++;
                return JSON_TOK_OBJ_OPEN;
        case '}':
                l->pos++;
                return JSON_TOK_OBJ_CLOSE;
        case '[':
                l->pos++;
                return JSON_TOK_ARR_OPEN;
        case ']':
                l->pos++;
                return JSON_TOK_ARR_CLOSE;
        case ':':
                l->pos++;
                return JSON_TOK_COLON;
        case ',':
                l->pos++;
                return JSON_TOK_COMMA;
        case '"':
                return lex_string(l);
        case 't':
                return lex_literal(l, "true", JSON_TOK_TRUE);
        case 'f':
                return lex_literal(l, "false", JSON_TOK_FALSE);
        case 'n':
                return lex_literal(l, "null", JSON_TOK_NULL);
        default:
                if (c == '-' || is_digit(c))
                        return lex_number(l);
                json_lex_fail(l, -EBADMSG, "unexpected character");
                return JSON_TOK_ERROR;
        }
}

static int push_uint(JsonLexer *l, uint32_t **buf, size_t *cap, size_t n, size_t max, uint64_t v)
{
        if (v > UINT32_MAX)
                return json_lex_fail(l, -ERANGE, "frame index out of range");
        if (n >= max)
                return json_lex_fail(l, -E2BIG, "stack too deep");
        if (n == *cap) {
                size_t c = *cap ? *cap * 2 : 64;
                uint32_t *b = realloc(*buf, c * sizeof(uint32_t));
                if (!b)
                        return json_lex_fail(l, -ENOMEM, "out of memory");
                *buf = b;
                *cap = c;
        }
        (*buf)[n] = (uint32_t) v;
        return 0;
}

/*
 * The hot loop of the reader: one speedscope sample is "[12,4,7,...]".
 * States: 0 before an item (or "]" when none yet), 1 in digits, 2 after an item.
 */
long json_lex_uint_array(JsonLexer *l, uint32_t **buf, size_t *cap, size_t max)
{
        const char *why = NULL;
        size_t n = 0;
        uint64_t v = 0;
        int state = 0, digits = 0, code = -EBADMSG;

        if (l->error)
                return -1;
        for (;;) {
                const unsigned char *p, *end;

                if (l->pos >= l->len) {
                        int r = refill(l);
                        if (r <= 0) {
                                if (r == 0)
                                        json_lex_fail(l, -EBADMSG, "the file ends early, inside a sample");
                                return -1;
                        }
                }
                p = l->buf + l->pos;
                end = l->buf + l->len;
                for (; p < end; p++) {
                        unsigned c = *p;
                        if (c - '0' < 10) {
                                if (state == 2 || (state == 1 && v == 0 && digits == 1))
                                        break; /* "1 2" or a leading zero */
                                v = v * 10 + (c - '0');
                                if (++digits > 10) {
                                        code = -ERANGE;
                                        break;
                                }
                                state = 1;
                                continue;
                        }
                        if (c != ',' && c != ']' && c != ' ' && c != '\n' && c != '\r' && c != '\t')
                                break;
                        if (state == 1) {
                                l->pos = (size_t) (p - l->buf);
                                if (push_uint(l, buf, cap, n, max, v) < 0)
                                        return -1;
                                n++;
                                v = 0;
                                digits = 0;
                                state = 2;
                        }
                        if (c == ']') {
                                if (state == 0 && n > 0)
                                        break; /* "[1,]" */
                                l->pos = (size_t) (p + 1 - l->buf);
                                return (long) n;
                        }
                        if (c == ',') {
                                if (state != 2)
                                        break; /* "[,": no item before the comma */
                                state = 0;
                        }
                }
                if (p < end) {
                        /* The offending byte's offset, the same whatever the block size. */
                        l->pos = (size_t) (p - l->buf);
                        why = code == -ERANGE ? "frame index out of range"
                                              : "a sample must be an array of frame indices";
                        json_lex_fail(l, code, why);
                        return -1;
                }
                l->pos = l->len;
        }
}

int json_lex_skip(JsonLexer *l, JsonTok first)
{
        /* Containers are only counted: what is inside is tokenized, so strings with brackets are safe. */
        char stack[512];
        size_t depth = 0;
        JsonTok t = first;

        for (;;) {
                switch (t) {
                case JSON_TOK_OBJ_OPEN:
                case JSON_TOK_ARR_OPEN:
                        if (depth == sizeof(stack))
                                return json_lex_fail(l, -E2BIG, "nesting too deep");
                        stack[depth++] = t == JSON_TOK_OBJ_OPEN ? '}' : ']';
                        break;
                case JSON_TOK_OBJ_CLOSE:
                case JSON_TOK_ARR_CLOSE:
                        if (depth == 0 || stack[depth - 1] != (t == JSON_TOK_OBJ_CLOSE ? '}' : ']'))
                                return json_lex_fail(l, -EBADMSG, "mismatched bracket");
                        depth--;
                        break;
                case JSON_TOK_END:
                        return json_lex_fail(l, -EBADMSG, "unexpected end of input");
                case JSON_TOK_ERROR:
                        return -1;
                default:
                        break;
                }
                if (depth == 0)
                        return 0;
                t = json_lex_next(l);
        }
}
