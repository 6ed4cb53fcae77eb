/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Sentences for people, made with printf formats: one place for the
 * vasprintf() dance that every parser's "set the error and return" needs.
 * Header-only, so the libraries that do not link libpamprof-common (the
 * plot, the report) use the same code.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* A malloc'd string, or NULL when out of memory. */
static inline char *format_newv(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static inline char *format_newv(const char *fmt, va_list ap)
{
        char *s = NULL;

        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

static inline char *format_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *format_new(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = format_newv(fmt, ap);
        va_end(ap);
        return s;
}

/* Replaces *ret_error (when ret_error is not NULL) with the sentence; returns r. */
static inline int error_setv(char **ret_error, int r, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
static inline int error_setv(char **ret_error, int r, const char *fmt, va_list ap)
{
        if (ret_error) {
                free(*ret_error);
                *ret_error = format_newv(fmt, ap);
        }
        return r;
}

static inline int error_set(char **ret_error, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static inline int error_set(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = error_setv(ret_error, r, fmt, ap);
        va_end(ap);
        return r;
}
