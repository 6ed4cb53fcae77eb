/* SPDX-License-Identifier: MIT */
#include "csv-reader.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strtod-c.h"

#define CSV_READ_AHEAD (16 * 1024)

void csv_reader_init(CsvReader *r, FILE *f)
{
        memset(r, 0, sizeof(*r));
        r->f = f;
        r->next_line = 1;
}

void csv_reader_done(CsvReader *r)
{
        free(r->buf);
        free(r->in);
        free(r->fields);
        r->buf = r->in = NULL;
        r->fields = NULL;
        r->nfields = r->len = r->cap = r->fields_cap = r->in_pos = r->in_len = 0;
}

/* The buffers, made once at their full size: the bounds are small, and a byte then costs no
 * check but one. */
static int buffers(CsvReader *r)
{
        if (!r->buf)
                r->buf = malloc(CSV_RECORD_MAX + 1);
        if (!r->in)
                r->in = malloc(CSV_READ_AHEAD);
        if (!r->buf || !r->in)
                return -ENOMEM;
        r->cap = CSV_RECORD_MAX + 1;
        return 0;
}

/* The next byte of the file, or EOF (r->error set on a read error). */
static int refill(CsvReader *r)
{
        if (r->error || feof(r->f))
                return EOF;
        r->in_len = fread(r->in, 1, CSV_READ_AHEAD, r->f);
        r->in_pos = 0;
        if (r->in_len == 0) {
                r->error = ferror(r->f);
                return EOF;
        }
        return (unsigned char) r->in[r->in_pos++];
}

static inline int next(CsvReader *r)
{
        if (r->in_pos < r->in_len)
                return (unsigned char) r->in[r->in_pos++];
        return refill(r);
}

/* Gives back the byte next() just returned (not EOF). */
static inline void unread(CsvReader *r)
{
        r->in_pos--;
}

/* One byte of the record; beyond CSV_RECORD_MAX it is dropped and the record marked. */
static inline void put(CsvReader *r, char c)
{
        if (r->len < CSV_RECORD_MAX)
                r->buf[r->len++] = c;
        else
                r->malformed = true;
}

/* A field starts at buf + len; none once the record is over CSV_RECORD_MAX. */
static int push_field(CsvReader *r)
{
        if (r->len >= CSV_RECORD_MAX)
                return 0;
        if (r->nfields == r->fields_cap) {
                size_t cap = r->fields_cap ? r->fields_cap * 2 : 16;
                char **f = realloc(r->fields, cap * sizeof(char *));

                if (!f)
                        return -ENOMEM;
                r->fields = f;
                r->fields_cap = cap;
        }
        r->fields[r->nfields++] = r->buf + r->len;
        return 0;
}

/* Reads to the end of the record. The state of the field: */
enum {
        FIELD_START, /* nothing of it yet: a quote opens quoting */
        UNQUOTED,
        QUOTED,
        CLOSED, /* after its closing quote: only a comma or the end of the line may follow */
};

/* The end of the record (c read): 1; or 0 to carry on. */
static int end_of_line(CsvReader *r, int c)
{
        if (c == '\n') {
                r->next_line++;
                return 1;
        }
        if (c == '\r') {
                int d = next(r);

                if (d == '\n' || d == EOF) {
                        r->next_line += d == '\n';
                        r->unterminated = d == EOF;
                        return 1;
                }
                unread(r);
        }
        return 0;
}

/* What ends or changes a run of ordinary bytes. */
static const bool special[256] = { ['\0'] = true, ['\n'] = true, ['\r'] = true, [','] = true, ['"'] = true };

/* A run of ordinary bytes of a field, the common case, from c on, copied as a block: the byte
 * after it. */
static int run(CsvReader *r, int c)
{
        put(r, (char) c);
        for (;;) {
                const char *p = r->in + r->in_pos, *e = r->in + r->in_len, *q = p;
                size_t n, room = CSV_RECORD_MAX - r->len;

                while (q < e && !special[(unsigned char) *q])
                        q++;
                n = (size_t) (q - p);
                if (n > room) {
                        r->malformed = true;
                        n = room;
                }
                memcpy(r->buf + r->len, p, n);
                r->len += n;
                r->in_pos += (size_t) (q - p);
                c = next(r);
                if (c == EOF || special[c])
                        return c;
                put(r, (char) c);
        }
}

static int read_record(CsvReader *r, int c)
{
        int state = FIELD_START, k;

        for (;;) {
                if (c != EOF && !special[c] && state != CLOSED) {
                        if (state == FIELD_START)
                                state = UNQUOTED;
                        c = run(r, c);
                        continue;
                }
                if (c == EOF) {
                        if (r->error)
                                return -EIO;
                        r->unterminated = true;
                        if (state == QUOTED)
                                r->malformed = true; /* never closed */
                        break;
                }
                if (c == '\0') {
                        r->malformed = true; /* not text */
                } else if (state == QUOTED) {
                        if (c == '"') {
                                int d = next(r);

                                if (d == '"')
                                        put(r, '"');
                                else {
                                        state = CLOSED;
                                        if (d != EOF)
                                                unread(r);
                                }
                        } else if (c == '\n' && r->len >= CSV_RECORD_MAX) {
                                r->next_line++; /* a runaway quote: give up at a line's end */
                                break;
                        } else {
                                r->next_line += c == '\n';
                                put(r, (char) c);
                        }
                } else if (end_of_line(r, c)) {
                        break;
                } else if (c == ',') {
                        put(r, '\0');
                        k = push_field(r);
                        if (k < 0)
                                return k;
                        state = FIELD_START;
                } else if (c == '"' && state == FIELD_START) {
                        state = QUOTED;
                } else if (state == CLOSED) {
                        r->malformed = true; /* text after the closing quote: dropped */
                } else {
                        state = UNQUOTED;
                        put(r, (char) c);
                }
                c = next(r);
        }
        r->buf[r->len] = '\0'; /* the last terminator: buf has room for it past CSV_RECORD_MAX */
        return 0;
}

int csv_reader_next(CsvReader *r)
{
        int c, k;

        r->malformed = r->unterminated = false;
        r->len = r->nfields = 0;
        r->line_no = r->next_line;
        k = buffers(r);
        if (k < 0)
                return k;
        c = next(r);
        if (c == EOF)
                return r->error ? -EIO : 0;
        k = push_field(r);
        if (k >= 0)
                k = read_record(r, c);
        return k < 0 ? k : 1;
}

const char *csv_trim(const char *s, size_t *ret_len)
{
        size_t n;

        while (*s == ' ' || *s == '\t')
                s++;
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        *ret_len = n;
        return s;
}

int csv_column(const CsvReader *r, const char *name)
{
        size_t want = strlen(name);

        for (size_t i = 0; i < r->nfields; i++) {
                size_t n;
                const char *s = csv_trim(r->fields[i], &n);

                if (i == 0 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
                        s += 3; /* a UTF-8 byte-order mark */
                        n -= 3;
                        while (n > 0 && (*s == ' ' || *s == '\t')) {
                                s++;
                                n--;
                        }
                }
                if (n == want && memcmp(s, name, n) == 0)
                        return (int) i;
        }
        return -1;
}

bool csv_blank(const CsvReader *r)
{
        size_t n;

        return r->nfields == 1 && !r->malformed && (csv_trim(r->fields[0], &n), n == 0);
}

static const double pow10_exact[] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * "12.5" and its like, fast: with at most 15 significant digits and a power
 * of ten within 1e22, m / 10^k is exact before the one rounding (Clinger's
 * fast path), so this agrees with strtod. Anything else goes to strtod.
 */
int csv_parse_double(const char *s, double *ret)
{
        const char *p, *q;
        uint64_t m = 0;
        int digits = 0, frac = 0, sign = 1;
        size_t n;
        char tmp[64], *end;
        double v;

        p = csv_trim(s, &n);
        if (n == 0)
                return -ENODATA;
        q = p + n;
        if (*p == '-' || *p == '+')
                sign = *p++ == '-' ? -1 : 1;
        for (; p < q && *p >= '0' && *p <= '9'; p++, digits++)
                m = m * 10 + (uint64_t) (*p - '0');
        if (p < q && *p == '.')
                for (p++; p < q && *p >= '0' && *p <= '9'; p++, digits++, frac++)
                        m = m * 10 + (uint64_t) (*p - '0');
        if (p == q && digits > 0 && digits <= 15 && frac <= 22) {
                *ret = sign * ((double) m / pow10_exact[frac]);
                return 0;
        }
        /* Exponents, long mantissas, "nan", "inf", junk: let strtod judge. */
        p = csv_trim(s, &n);
        if (n >= sizeof(tmp))
                return -EINVAL;
        memcpy(tmp, p, n);
        tmp[n] = '\0';
        errno = 0;
        v = strtod_c(tmp, &end);
        if (end == tmp || *end != '\0' || errno == ERANGE)
                return -EINVAL;
        *ret = v;
        return 0;
}

int csv_figure(const CsvReader *r, int col, double *ret)
{
        int k;

        *ret = NAN;
        if (col < 0 || (size_t) col >= r->nfields)
                return -ENODATA;
        k = csv_parse_double(r->fields[col], ret);
        if (k == 0 && !isfinite(*ret))
                k = -EINVAL;
        if (k < 0)
                *ret = NAN;
        return k;
}
