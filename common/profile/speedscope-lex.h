/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * An incremental JSON tokenizer for large files read in blocks: a 100 MB
 * speedscope profile goes through a 256 KiB buffer, never into memory as a
 * whole. It knows tokens only; the grammar of a speedscope file is in
 * speedscope-read.c. Strings are unescaped (\uXXXX with surrogates to
 * UTF-8) into one reusable buffer; numbers follow JSON's grammar exactly.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum JsonTok {
        JSON_TOK_ERROR = -1,
        JSON_TOK_END = 0, /* no more input */
        JSON_TOK_OBJ_OPEN,
        JSON_TOK_OBJ_CLOSE,
        JSON_TOK_ARR_OPEN,
        JSON_TOK_ARR_CLOSE,
        JSON_TOK_COLON,
        JSON_TOK_COMMA,
        JSON_TOK_STRING,
        JSON_TOK_NUMBER,
        JSON_TOK_TRUE,
        JSON_TOK_FALSE,
        JSON_TOK_NULL,
} JsonTok;

typedef struct JsonLexer {
        int fd;             /* -1: the input is all in buf */
        unsigned char *buf; /* owned when fd >= 0 */
        size_t size;        /* buf's capacity */
        size_t pos, len;    /* unread bytes are buf[pos..len) */
        uint64_t offset;    /* file offset of buf[0] */
        bool eof;

        char *str; /* the last string token, NUL-terminated */
        size_t str_len, str_cap;
        size_t max_string; /* longer strings are an error */

        double num;       /* the last number token */
        bool num_is_uint; /* a non-negative integer that fits in num_uint */
        uint64_t num_uint;

        int error; /* -errno once JSON_TOK_ERROR was returned */
        char message[160];
} JsonLexer;

/* Reads fd from its current offset in blocks of block_size (0: 256 KiB). 0 or -ENOMEM. */
int json_lexer_init_fd(JsonLexer *l, int fd, size_t block_size);
/* Tokenizes data[0..len) (not copied: it must outlive the lexer). */
void json_lexer_init_mem(JsonLexer *l, const char *data, size_t len);
void json_lexer_done(JsonLexer *l);

JsonTok json_lex_next(JsonLexer *l);

/*
 * After a JSON_TOK_ARR_OPEN: reads "n, n, ... ]" of non-negative integers
 * below 2^32 into *buf (grown as needed, at most max items), fast. Returns
 * the count, or -1 with l->error set (then the message says why).
 */
long json_lex_uint_array(JsonLexer *l, uint32_t **buf, size_t *cap, size_t max);

/* Skips the value that starts with token first (nested containers too). 0 or -1. */
int json_lex_skip(JsonLexer *l, JsonTok first);

/* Sets the error (-EBADMSG unless r says otherwise) and a message with the byte offset; returns -1. */
int json_lex_fail(JsonLexer *l, int r, const char *what);

/* Byte offset of the next unread byte, for messages. */
uint64_t json_lex_offset(const JsonLexer *l);
