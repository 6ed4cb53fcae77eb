/* SPDX-License-Identifier: MIT */
#include "http-curl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs-util.h"

/* curl's exit codes (curl(1), EXIT CODES) that say the network, not the request. */
#define CURL_RESOLVE_PROXY 5
#define CURL_RESOLVE 6
#define CURL_CONNECT 7
#define CURL_TIMEOUT 28

static int memfd_with(const char *name, const char *data, size_t len)
{
        int fd = memfd_create(name, MFD_CLOEXEC);

        if (fd < 0)
                return -errno;
        if ((len > 0 && write_all(fd, data, len) < 0) || lseek(fd, 0, SEEK_SET) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Up to size - 1 bytes of fd from its start, control bytes as spaces, NUL-terminated. */
static size_t read_text(int fd, char *out, size_t size)
{
        ssize_t k = pread(fd, out, size - 1, 0);

        if (k < 0)
                k = 0;
        out[k] = '\0';
        for (ssize_t i = 0; i < k; i++)
                if ((unsigned char) out[i] < 0x20 || out[i] == 0x7f)
                        out[i] = out[i] == '\n' && i == k - 1 ? '\0' : ' ';
        return (size_t) k;
}

/* curl's config syntax: a double-quoted string with \" and \\ escaped. Our values have neither. */
static char *curl_config(const HttpTarget *t)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return NULL;
        if (t->token && t->token[0])
                fprintf(f, "header = \"Authorization: Bearer %s\"\n", t->token);
        if (t->tenant && t->tenant[0])
                fprintf(f, "header = \"X-Scope-OrgID: %s\"\n", t->tenant);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

_Noreturn static void run_curl(const HttpTarget *t, const char *url, int in, int out, int err, int conf)
{
        char max_time[16], connect_time[16];
        sigset_t none;

        snprintf(max_time, sizeof(max_time), "%u", t->timeout);
        snprintf(connect_time, sizeof(connect_time), "%u", t->timeout < 10 ? t->timeout : 10);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || dup2(conf, 3) < 0)
                _exit(127);
        execl(t->curl, "curl", "--silent", "--show-error", "--proto", "=http,https", "--request", "POST",
              "--header", "Content-Type: text/plain", "--header", "Expect:", "--user-agent",
              "pamprofd-upload", "--connect-timeout", connect_time, "--max-time", max_time, "--config",
              "/dev/fd/3", "--data-binary", "@-", "--write-out", "\n%{http_code}", "--url", url,
              (char *) NULL);
        _exit(127);
}

int http_post(const HttpTarget *t, const char *url, const char *body, size_t len, HttpResult *res)
{
        _cleanup_free_ char *conf_text = curl_config(t);
        _cleanup_close_ int in = -1, out = -1, err = -1, conf = -1;
        char text[4096];
        int status = 0, r;
        size_t n;
        pid_t pid;

        *res = (HttpResult){ 0 };
        if (!conf_text)
                return -ENOMEM;
        if ((in = memfd_with("body", body, len)) < 0 || (out = memfd_with("answer", NULL, 0)) < 0 ||
            (err = memfd_with("error", NULL, 0)) < 0 ||
            (conf = memfd_with("config", conf_text, strlen(conf_text))) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                run_curl(t, url, in, out, err, conf);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
                snprintf(res->message, sizeof(res->message), "%s did not run (%s %d)", t->curl,
                         WIFEXITED(status) ? "exit status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                return -ENOEXEC;
        }
        r = WEXITSTATUS(status);
        if (r != 0) {
                read_text(err, res->message, sizeof(res->message));
                if (!res->message[0])
                        snprintf(res->message, sizeof(res->message), "curl failed with exit status %d", r);
                return r == CURL_TIMEOUT                                                    ? -ETIMEDOUT
                        : r == CURL_CONNECT || r == CURL_RESOLVE || r == CURL_RESOLVE_PROXY ? -ECONNREFUSED
                                                                                            : -EIO;
        }
        /* The answer, then "\n" and the status: the status is the text after the last newline. */
        n = read_text(out, text, sizeof(text));
        if (n + 1 >= sizeof(text)) {
                /* a long answer: its end holds the status */
                char tail[8] = "";
                off_t end = lseek(out, 0, SEEK_END);
                if (end > 4 && pread(out, tail, 4, end - 4) == 4)
                        res->status = atoi(tail[0] == '\n' ? tail + 1 : tail);
        } else {
                char *space = strrchr(text, ' ');
                res->status = atoi(space ? space + 1 : text);
                if (space)
                        *space = '\0';
                for (size_t k = strlen(text); k > 0 && text[k - 1] == ' '; k--)
                        text[k - 1] = '\0';
        }
        snprintf(res->message, sizeof(res->message), "%.*s", (int) sizeof(res->message) - 1, text);
        return 0;
}
