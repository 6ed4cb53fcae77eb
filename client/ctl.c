/* SPDX-License-Identifier: MIT */
#include "ctl.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "protocol.h"
#include "wire.h"

/* Long enough for stop, which waits for py-spy to write its file. */
#define REPLY_TIMEOUT_MS (5 * 60 * 1000)

static int unreachable(const Ctl *ctl, int error)
{
        fprintf(stderr, "pamprofctl: cannot reach pamprofd at %s: %s.\n", ctl->socket, strerror(error));
        if (error == EACCES)
                fprintf(stderr,
                        "Only root and members of group pamprof may use the socket; ask an "
                        "administrator to add you (usermod -aG pamprof USER).\n");
        else
                fprintf(stderr,
                        "Is the daemon running? Start it with \"sudo systemctl start pamprofd\" "
                        "(or run pamprofd, or give --socket PATH).\n");
        return EXIT_UNREACHABLE;
}

static int ctl_connect(Ctl *ctl)
{
        if (ctl->fd >= 0)
                return 0;
        ctl->fd = wire_connect(ctl->socket);
        return ctl->fd < 0 ? -ctl->fd : 0;
}

void ctl_close(Ctl *ctl)
{
        if (ctl->fd >= 0)
                close(ctl->fd);
        ctl->fd = -1;
}

/* Is a datagram waiting? */
static bool reply_waiting(int fd)
{
        char c;

        return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) > 0;
}

static int receive_reply(Ctl *ctl, char *buf, size_t size, size_t *ret_len)
{
        struct pollfd p = { .fd = ctl->fd, .events = POLLIN };
        bool truncated = false;
        int r;

        for (;;) {
                r = poll(&p, 1, REPLY_TIMEOUT_MS);
                if (r < 0 && errno == EINTR)
                        return -EINTR;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                r = wire_recv(ctl->fd, buf, size, ret_len, &truncated, NULL);
                /* A daemon that closed on us with our request unread leaves ECONNRESET pending ahead of
                 * its reply; the error is reported once, the reply is still there behind it. */
                if (r == -ECONNRESET && reply_waiting(ctl->fd))
                        r = wire_recv(ctl->fd, buf, size, ret_len, &truncated, NULL);
                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                return truncated ? -EMSGSIZE : 0;
        }
}

int ctl_call_quiet(Ctl *ctl, cJSON *req, int pass_fd, cJSON **ret_root, bool *ret_ok, cJSON **ret_body)
{
        _cleanup_free_ char *text = cJSON_PrintUnformatted(req);
        _cleanup_free_ char *buf = malloc(PAMPROF_MESSAGE_MAX + 2);
        size_t len = 0;
        int r;

        cJSON_Delete(req);
        if (!text || !buf) {
                fprintf(stderr, "pamprofctl: out of memory\n");
                return EXIT_REFUSED;
        }
        r = ctl_connect(ctl);
        if (r != 0)
                return unreachable(ctl, r);
        r = wire_send(ctl->fd, text, strlen(text), pass_fd);
        if (r < 0) {
                /* A daemon that turns us away ("too many clients") has answered and closed already. */
                bool truncated;
                if ((r == -EPIPE || r == -ECONNRESET) &&
                    wire_recv(ctl->fd, buf, PAMPROF_MESSAGE_MAX + 2, &len, &truncated, NULL) == 0 &&
                    !truncated && protocol_parse_reply(buf, len, ret_root, ret_ok, ret_body) == 0) {
                        ctl_close(ctl);
                        return EXIT_OK;
                }
                ctl_close(ctl);
                return unreachable(ctl, -r);
        }
        r = receive_reply(ctl, buf, PAMPROF_MESSAGE_MAX + 2, &len);
        if (r == -EINTR)
                return -EINTR;
        if (r < 0) {
                ctl_close(ctl);
                if (r == -ECONNRESET)
                        fprintf(stderr, "pamprofctl: pamprofd closed the connection without an answer.\n");
                else
                        fprintf(stderr, "pamprofctl: no answer from pamprofd: %s.\n", strerror(-r));
                return EXIT_UNREACHABLE;
        }
        if (protocol_parse_reply(buf, len, ret_root, ret_ok, ret_body) < 0) {
                fprintf(stderr, "pamprofctl: pamprofd sent a reply this client does not understand.\n");
                return EXIT_REFUSED;
        }
        return EXIT_OK;
}

/*
 * For a person's terminal: PAM's command line and paths come from other
 * users, and an escape sequence in them must not reach the terminal. Every
 * control character in every string of the reply becomes '?' (the JSON
 * output, for scripts, keeps them escaped as JSON does).
 */
static void defang(cJSON *item)
{
        for (; item; item = item->next) {
                if (cJSON_IsString(item) && item->valuestring)
                        for (unsigned char *p = (unsigned char *) item->valuestring; *p; p++)
                                if (*p < 0x20 || *p == 0x7f)
                                        *p = '?';
                defang(item->child);
        }
}

int ctl_call(Ctl *ctl, cJSON *req, int pass_fd, cJSON **ret_root, cJSON **ret_result)
{
        cJSON *root = NULL, *body = NULL;
        bool ok = false;
        int r;

        r = ctl_call_quiet(ctl, req, pass_fd, &root, &ok, &body);
        if (r != EXIT_OK)
                return r;
        return ctl_take_reply(ctl, root, ok, body, ret_root, ret_result);
}

int ctl_take_reply(Ctl *ctl, cJSON *root, bool ok, cJSON *body, cJSON **ret_root, cJSON **ret_result)
{
        if (!ctl->json)
                defang(root);
        if (!ok) {
                if (ctl->json)
                        ctl_print_json(root);
                else
                        fprintf(stderr, "pamprofctl: %s\n", json_string(body, "message", "refused"));
                cJSON_Delete(root);
                return EXIT_REFUSED;
        }
        *ret_root = root;
        *ret_result = body;
        return EXIT_OK;
}

void ctl_print_json(const cJSON *root)
{
        _cleanup_free_ char *text = cJSON_PrintUnformatted(root);

        if (text)
                printf("%s\n", text);
        fflush(stdout);
}

double json_number(const cJSON *o, const char *key, double def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : def;
}

const char *json_string(const cJSON *o, const char *key, const char *def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : def;
}

void format_seconds(double s, char *buf, size_t size)
{
        long t = isfinite(s) && s > 0 ? lround(floor(s)) : 0;

        if (t >= 3600)
                snprintf(buf, size, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
        else if (t >= 60)
                snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
        else
                snprintf(buf, size, "%lds", t);
}
