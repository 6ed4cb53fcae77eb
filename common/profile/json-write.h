/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdio.h>

/*
 * s[0..n) as a JSON string: quotes and backslashes escaped, control bytes as \u00XX, and every
 * byte that is not well-formed UTF-8 (overlong, a surrogate, past U+10FFFF, cut short) as
 * U+FFFD, so the document stays valid whatever PAM named its frames and threads. The Austin
 * converter and the recorder's window writer use it.
 */
void json_write_string(FILE *out, const char *s, size_t n);
