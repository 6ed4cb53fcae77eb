/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * pamprofd-upload's pure parts: what a spooled profile's labels file says, the /ingest query
 * Pyroscope takes for it, the bodies a folded file is cut into, what an HTTP status means, and
 * the back-off. No files, no network: tested with literals (tests/unit/test-upload.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pyroscope refuses a body over 4 MiB (413); a part stays well below it, cut between lines. */
#define UPLOAD_BODY_MAX (4000 * 1000)
#define UPLOAD_LABELS_MAX 8

typedef struct UploadLabels {
        char name[64]; /* pam.wall or pam.cpu */
        struct {
                char key[64], value[128];
        } labels[UPLOAD_LABELS_MAX];
        size_t n_labels;
        int64_t from, until; /* unix seconds */
        unsigned sample_rate;
        char spy_name[32];
        unsigned sent_parts; /* parts of the body the server took already (a retry goes on from there) */
} UploadLabels;

/* Parses ID.json as the daemon writes it; -EBADMSG with a sentence when it says nothing valid. */
int upload_labels_parse(const char *text, UploadLabels *ret, char **ret_error);

/* "name=pam.wall%7Bhost%3Dh%2C...%7D&from=...&aggregationType=sum", malloc'd. */
char *upload_query(const UploadLabels *l);

/* The end of the part of body that starts at `at`: at most max bytes, ending after a newline
 * (or at the end). A line longer than max is a part of its own. */
size_t upload_part_end(const char *body, size_t len, size_t at, size_t max);

typedef enum UploadVerdict {
        UPLOAD_SENT,   /* 2xx: remove it */
        UPLOAD_RETRY,  /* the network, 5xx, 408, 429: leave it, back off */
        UPLOAD_REJECT, /* any other 4xx (or 1xx, 3xx): sending it again gets the same answer */
} UploadVerdict;

UploadVerdict upload_verdict(int http_status);

/* Seconds to wait after `failures` failed runs in a row: 60, 120, 240 ... at most an hour. */
unsigned upload_backoff(unsigned failures);

/*
 * The fix for a rejected profile, for the journal: the server's answer and the profile's age by
 * this machine's clock (now - until, seconds) decide. A sentence; never NULL.
 */
const char *upload_reject_hint(int http_status, const char *answer, int64_t age);
