/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One HTTP POST through Debian's curl, run as a child: HTTPS to Grafana Cloud needs TLS, and
 * curl brings it (OpenSSL, the system's CA store, proxies from the environment) without a TLS
 * library in this program. The token never appears on a command line: curl reads its headers
 * from a config on a memfd (-K /dev/fd/3); the body is its stdin.
 */

#include <stddef.h>

typedef struct HttpTarget {
        const char *curl;   /* the executable */
        const char *token;  /* bearer token, or NULL */
        const char *tenant; /* X-Scope-OrgID, or NULL */
        unsigned timeout;   /* seconds for the whole request; connecting gets at most 10 of them */
} HttpTarget;

typedef struct HttpResult {
        int status;        /* the HTTP status, 0 when none came back */
        char message[512]; /* the server's answer (its start), or curl's error */
} HttpResult;

/*
 * 0 when the server answered (res->status), -ETIMEDOUT, -ECONNREFUSED (could not connect or
 * resolve), -EIO (another failure of curl's), or -errno when curl could not run. res->message
 * says it in words.
 */
int http_post(const HttpTarget *t, const char *url, const char *body, size_t len, HttpResult *res);
