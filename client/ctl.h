/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * pamprofctl's plumbing: one request, one reply, and the exit codes every
 * verb shares (0 ok, 1 refused or failed, 2 usage, 3 daemon unreachable).
 */

#include <stdbool.h>
#include <cjson/cJSON.h>

enum {
        EXIT_OK = 0,
        EXIT_REFUSED = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
};

typedef struct Ctl {
        const char *socket;
        bool json;
        int fd; /* connection, opened on first use */
} Ctl;

/*
 * Sends req (taken) with pass_fd attached when >= 0, waits for the reply.
 * On success returns EXIT_OK with the reply root in *ret_root and its
 * result object in *ret_result (both owned by *ret_root). A refusal prints
 * the daemon's sentence (or, with --json, the reply) and returns
 * EXIT_REFUSED; no daemon: a sentence and EXIT_UNREACHABLE.
 */
int ctl_call(Ctl *ctl, cJSON *req, int pass_fd, cJSON **ret_root, cJSON **ret_result);

/* The same, but a refusal is returned to the caller quietly: *ret_ok false and the error object. */
int ctl_call_quiet(Ctl *ctl, cJSON *req, int pass_fd, cJSON **ret_root, bool *ret_ok, cJSON **ret_body);

/* What ctl_call does with a reply ctl_call_quiet got: root is taken. */
int ctl_take_reply(Ctl *ctl, cJSON *root, bool ok, cJSON *body, cJSON **ret_root, cJSON **ret_result);

void ctl_close(Ctl *ctl);

/* Prints the reply as JSON (one line) on stdout. */
void ctl_print_json(const cJSON *root);

/* Helpers for text output. */
double json_number(const cJSON *o, const char *key, double def);
const char *json_string(const cJSON *o, const char *key, const char *def);
void format_seconds(double s, char *buf, size_t size);
