/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside pamprofctl: what the verbs' files share (verbs.c: the table and the option and reply
 * helpers; output.c: the text a person reads; verbs-session.c: status, start, stop;
 * verbs-record.c: record; verbs-records.c: list, show, delete; verbs-snapshot.c: snapshot). Not for the rest of the client.
 */

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "cleanup.h"

enum {
        OPT_JSON = 0x100,
        OPT_SOCKET,
        OPT_HELP,
        OPT_WATCH,
        OPT_SCENARIO,
        OPT_INTERVAL,
        OPT_DURATION,
        OPT_OUTPUT,
        OPT_PID,
        OPT_CHILDREN,
        OPT_WAIT,
        OPT_NO_PROFILE,
        OPT_NO_MONITOR,
        OPT_RATE,
        OPT_LIMIT,
        OPT_ID,
        OPT_NONBLOCKING,
        OPT_NATIVE,
        OPT_SUBPROCESSES,
        OPT_GIL,
        OPT_NO_IDLE,
        OPT_PROFILER
};

#define COMMON_OPTIONS                                                                              \
        { "json", no_argument, NULL, OPT_JSON }, { "socket", required_argument, NULL, OPT_SOCKET }, \
        {                                                                                           \
                "help", no_argument, NULL, 'h'                                                      \
        }

/* Set by verbs_on_interrupt (SIGINT, SIGTERM) for the verbs that loop. */
extern volatile sig_atomic_t verbs_interrupted;

typedef struct StartArgs {
        const char *scenario;
        const char *output;
        const char *profiler;
        double interval, duration, pid, wait, rate;
        bool children, no_profile, no_monitor;
        bool nonblocking, native, subprocesses, gil, no_idle;
} StartArgs;

/* verbs.c: options and replies */
int usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);
bool common_option(Ctl *ctl, int c, const char *verb, int *ret);
int parse_positive(const char *verb, const char *opt, const char *s, double lo, double hi, double *ret);
int parse_start_field(const char *verb, const char *opt, const char *field, const char *s, double *ret);
int parse_common_only(Ctl *ctl, int argc, char *argv[], const char *verb, const char *help);
int print_reply(Ctl *ctl, cJSON *root, const cJSON *res, void (*print)(const cJSON *res));
int call_and_print(Ctl *ctl, cJSON *req, int pass_fd, void (*print)(const cJSON *res));

/* output.c: what a person reads */
void print_files(const cJSON *result);
void print_summary(const cJSON *result);
void print_version(const cJSON *res);
void print_status(const cJSON *res);
void print_started(const cJSON *res, bool duration_given);
const char *sampler_name(const cJSON *p);
void print_coverage(const cJSON *p, const char *indent);
void print_profile(const cJSON *res);
void print_stopped(const cJSON *res);
void print_record(const cJSON *rec);

/* verbs-session.c */
int parse_start(Ctl *ctl, const char *verb, int argc, char *argv[], StartArgs *a);
int do_start(Ctl *ctl, const char *verb, const StartArgs *a, cJSON **ret_root, cJSON **ret_result);
int verb_status(Ctl *ctl, int argc, char *argv[]);
int verb_start(Ctl *ctl, int argc, char *argv[]);
int verb_stop(Ctl *ctl, int argc, char *argv[]);
/* verbs-record.c */
int verb_record(Ctl *ctl, int argc, char *argv[]);
/* verbs-records.c */
int verb_list(Ctl *ctl, int argc, char *argv[]);
int verb_show(Ctl *ctl, int argc, char *argv[]);
int verb_delete(Ctl *ctl, int argc, char *argv[]);
/* verbs-snapshot.c */
int verb_snapshot(Ctl *ctl, int argc, char *argv[]);
