/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A finding is a JSON object, so the text report and --json say the same:
 *
 *   {"kind": "busy-wait", "severity": "problem", "score": 99.8,
 *    "title": "one sentence",
 *    "thread": {"tid": 4249, "name": "LinkWaiter", "profile": "Thread 4249 \"LinkWaiter\""},
 *    "function": {"name": "_check_ready", "file": ".../external.py", "line": 415},
 *    "numbers": {...}, "evidence": ["...", ...], "where": "...", "fix": "..."}
 *
 * severity: "problem" (a rule of the seed's guide is broken), "warning"
 * (worth a look), "note". score: roughly the share of one core it costs
 * (for memory, the growth per hour as a share of RSS), capped at 100; the
 * report ranks by severity, then score.
 */

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "speedscope-model.h"

typedef enum Severity {
        SEV_NOTE,
        SEV_WARNING,
        SEV_PROBLEM,
} Severity;

const char *severity_name(Severity s);
Severity severity_from_name(const char *s);

cJSON *finding_new(const char *kind, Severity sev, double score, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void finding_evidence(cJSON *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void finding_where(cJSON *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void finding_fix(cJSON *f, const char *text);
void finding_number(cJSON *f, const char *key, double v);
void finding_thread(cJSON *f, const SsModel *m, uint32_t thread);
void finding_function(cJSON *f, const SsModel *m, uint32_t frame);
/* The thread's tid in a finding, or -1. */
long finding_tid(const cJSON *f);

/* Sorts by severity then score, and numbers them ("rank": 1...). */
void findings_rank(cJSON *findings);

/* JSON for a thread and a frame, as findings and sections carry them. */
cJSON *json_thread(const SsModel *m, uint32_t thread);
cJSON *json_frame(const SsModel *m, uint32_t frame);

/* A file as people read it: from the package down (".../site-packages/pkg/x.py" -> "pkg/x.py"). */
const char *short_file(const char *file);
/* "name (pkg/x.py:12)" */
const char *fmt_frame(const SsModel *m, uint32_t frame, char *buf, size_t size);
/* py-spy's profile name: Thread 4249 "LinkWaiter" */
const char *fmt_thread(const SsModel *m, uint32_t thread);
/* 0.0123 s -> "12 ms", 75 -> "75.0 s", 4000 -> "66.7 min" */
const char *fmt_seconds(double s, char *buf, size_t size);
/* NAN-safe cJSON number: null for a non-finite value. */
void json_add_number(cJSON *o, const char *key, double v);
/* Rounded to `digits` decimals, so --json does not print 0.30000000000000004. */
double round_to(double v, int digits);
