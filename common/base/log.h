/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One logging path for the daemon (OpenBSD's log.c, systemd's log.h).
 * Under systemd, stderr lines carry sd-daemon priority prefixes ("<3>") so
 * journald keeps the level; on a terminal they read "pamprofd: error: ...".
 * The *_errno() forms append strerror and return -abs(error), so a caller can
 * "return log_error_errno(r, ...)".
 */

#include <stdarg.h>
#include <syslog.h>

#include "cleanup.h"

void log_setup(const char *ident);
void log_set_max_level(int level);

/* Structured context for the journal path; any field may be NULL / 0. */
typedef struct LogFields {
        const char *session;
        const char *scenario;
        const char *event;
        long pid;
} LogFields;

int log_internal(int level, int error, const LogFields *fields, const char *fmt, ...) _printf_(4, 5);
int log_internalv(int level, int error, const LogFields *fields, const char *fmt, va_list ap) _printf_(4, 0);

#define log_full_errno(level, error, ...) log_internal((level), (error), NULL, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_struct(level, fields, ...) log_internal((level), 0, (fields), __VA_ARGS__)
