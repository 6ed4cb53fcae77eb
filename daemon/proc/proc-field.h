/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Fields of /proc text, for the parsers: numbers and whitespace-separated
 * tokens within [p, end). Nothing here reads past end or needs a NUL.
 * Malformed text gives -EBADMSG, a number too large for its type -ERANGE.
 */

#include <stddef.h>
#include <stdint.h>

/* A run of decimal digits, nothing else: "0" .. "18446744073709551615". */
int proc_field_u64(const char *s, size_t n, uint64_t *ret);

/* As above with an optional leading '-' (fields such as tpgid, priority). */
int proc_field_i64(const char *s, size_t n, int64_t *ret);

/* Skips ' ', '\t' and '\n', then returns the next token and advances *p
 * past it; -ENODATA at the end of the text. */
int proc_field_next(const char **p, const char *end, const char **ret_token, size_t *ret_len);

/*
 * In "Key:   1234 kB" lines (meminfo, smaps_rollup, status), the value of the
 * line whose key is exactly key (so "Pss" does not match "Pss_Anon").
 * The unit, when present, must be "kB". -ENOENT when no line has the key.
 */
int proc_field_kb_line(const char *buf, size_t len, const char *key, uint64_t *ret_kb);
