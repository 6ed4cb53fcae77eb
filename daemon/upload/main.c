/* SPDX-License-Identifier: MIT */
/*
 * pamprofd-upload: sends the profiles pamprofd spooled (state_dir/upload/ID.folded with its
 * labels in ID.json) to Grafana Pyroscope's /ingest, oldest first, and exits. Started by
 * pamprofd-upload.path when the spool changes and by pamprofd-upload.timer for retries, as its
 * own unprivileged user with the network the daemon does not have.
 *
 *   2xx                 the profile is removed;
 *   network, 5xx, 408,  it stays, the run ends (the server is not hammered with the rest) and
 *   429                 the next run waits 1, 2, 4 ... 60 min (upload/.backoff; --force ignores it);
 *   other 4xx           sending it again gets the same answer: it moves to upload/rejected/ with
 *                       the answer in its ID.json, and the journal says why and what to fix.
 *
 * A body is cut between lines into parts under 4 MB (Pyroscope answers 413 above 4 MiB); the
 * parts the server took are counted in ID.json, so a retry sends only the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "build-config.h"
#include "cleanup.h"
#include "config.h"
#include "fs-util.h"
#include "http-curl.h"
#include "log.h"
#include "sort-util.h"
#include "upload-request.h"

#define BACKOFF_FILE ".backoff"
#define DROPPED_FILE ".dropped"
#define REJECTED_DIR "rejected"
#define LABELS_MAX (64 * 1024)
#define TOKEN_MAX 8192

typedef struct Uploader {
        int spool;
        const char *spool_path;
        char *url; /* pyroscope_url without a trailing '/' */
        HttpTarget http;
        char *token;
        bool force;
        unsigned sent, rejected, waiting;
} Uploader;

static int64_t now_unix(void)
{
        return (int64_t) time(NULL);
}

/* upload/.backoff: "FAILURES NEXT_UNIX" */
static void backoff_read(int spool, unsigned *ret_failures, int64_t *ret_next)
{
        _cleanup_free_ char *text = NULL;
        long long next = 0;
        unsigned failures = 0;

        if (read_file_at(spool, BACKOFF_FILE, 64, &text, NULL) >= 0)
                (void) sscanf(text, "%u %lld", &failures, &next);
        *ret_failures = failures;
        *ret_next = next;
}

static void backoff_write(int spool, unsigned failures)
{
        char buf[64];

        if (failures == 0) {
                (void) unlinkat(spool, BACKOFF_FILE, 0);
                return;
        }
        snprintf(buf, sizeof(buf), "%u %" PRId64 "\n", failures, now_unix() + upload_backoff(failures));
        (void) write_file_atomic_at(spool, BACKOFF_FILE, buf, strlen(buf), (uid_t) -1, (gid_t) -1);
}

static int read_token(const char *path, char **ret)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        size_t len = 0;
        int r;

        /* LoadCredential=pyroscope-token:... in a drop-in wins: systemd reads it as root. */
        if (creds && (fd = open(creds, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0 &&
            read_file_at(fd, "pyroscope-token", TOKEN_MAX, &text, &len) >= 0)
                path = "the credential pyroscope-token";
        else if (!path || !path[0]) {
                *ret = NULL;
                return 0;
        } else if ((r = read_file_at(AT_FDCWD, path, TOKEN_MAX, &text, &len)) < 0)
                return log_error_errno(r, "Cannot read pyroscope_token_file %s", path);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
                text[--len] = '\0';
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) text[i] <= ' ' || text[i] == '"' || text[i] == '\\' || text[i] == 0x7f) {
                        log_error("%s: the token must be one word of printable characters", path);
                        return -EINVAL;
                }
        *ret = TAKE_PTR(text);
        return 0;
}

static int labels_rewrite(Uploader *u, int dir, const char *name, const char *text, const char *key,
                          cJSON *value)
{
        cJSON *j = cJSON_Parse(text);
        _cleanup_free_ char *out = NULL;

        if (!j) {
                cJSON_Delete(value);
                return -EBADMSG;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(j, key);
        cJSON_AddItemToObject(j, key, value);
        out = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!out)
                return -ENOMEM;
        return write_file_atomic_at(dir, name, out, strlen(out), (uid_t) -1, (gid_t) -1);
}

/* Moves ID.json and ID.folded to rejected/, the reason in ID.json. */
static void reject(Uploader *u, const char *base, const char *labels_text, int status, const char *why,
                   const char *hint)
{
        char json[300], folded[300];
        cJSON *o = cJSON_CreateObject();
        _cleanup_close_ int rejected = -1;

        snprintf(json, sizeof(json), "%s.json", base);
        snprintf(folded, sizeof(folded), "%s.folded", base);
        cJSON_AddNumberToObject(o, "status", status);
        cJSON_AddStringToObject(o, "answer", why);
        cJSON_AddStringToObject(o, "fix", hint);
        cJSON_AddNumberToObject(o, "at", (double) now_unix());
        if (labels_text)
                (void) labels_rewrite(u, u->spool, json, labels_text, "rejected", o);
        else
                cJSON_Delete(o);
        if (mkdirat(u->spool, REJECTED_DIR, 0770) < 0 && errno != EEXIST)
                log_warning_errno(errno, "Cannot create %s/%s", u->spool_path, REJECTED_DIR);
        rejected = openat(u->spool, REJECTED_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rejected < 0 || (renameat(u->spool, folded, rejected, folded) < 0 && errno != ENOENT) ||
            renameat(u->spool, json, rejected, json) < 0) {
                /* It must not be sent again: out of the way, whatever happens. */
                (void) unlinkat(u->spool, folded, 0);
                (void) unlinkat(u->spool, json, 0);
        }
        u->rejected++;
}

typedef enum Outcome {
        OUTCOME_SENT,
        OUTCOME_REJECTED,
        OUTCOME_WAIT, /* the server or the network: stop this run */
} Outcome;

static Outcome send_parts(Uploader *u, const char *base, const char *labels_text, UploadLabels *l,
                          const char *body, size_t len)
{
        _cleanup_free_ char *query = upload_query(l), *url = NULL;
        char json[300];
        size_t at = 0;
        unsigned part = 0;

        snprintf(json, sizeof(json), "%s.json", base);
        if (!query || asprintf(&url, "%s/ingest?%s", u->url, query) < 0)
                return OUTCOME_WAIT;
        while (at < len) {
                size_t end = upload_part_end(body, len, at, UPLOAD_BODY_MAX);
                HttpResult res;
                int r;

                if (part++ < l->sent_parts) {
                        at = end;
                        continue; /* the server has it from an earlier run */
                }
                r = http_post(&u->http, url, body + at, end - at, &res);
                if (r < 0) {
                        log_warning("%s: not sent to %s: %s; it stays in the spool and is sent again later",
                                    base, u->url, res.message[0] ? res.message : strerror(-r));
                        return OUTCOME_WAIT;
                }
                switch (upload_verdict(res.status)) {
                case UPLOAD_SENT:
                        break;
                case UPLOAD_RETRY:
                        log_warning("%s: %s answered %d%s%s; it stays in the spool and is sent again later",
                                    base, u->url, res.status, res.message[0] ? ": " : "", res.message);
                        return OUTCOME_WAIT;
                case UPLOAD_REJECT: {
                        const char *hint =
                                upload_reject_hint(res.status, res.message, now_unix() - l->until);
                        log_error("%s: %s refused it with %d%s%s. Not sent again: moved to %s/%s/. Fix: %s",
                                  base, u->url, res.status, res.message[0] ? ": " : "", res.message,
                                  u->spool_path, REJECTED_DIR, hint);
                        reject(u, base, labels_text, res.status, res.message, hint);
                        return OUTCOME_REJECTED;
                }
                }
                at = end;
                if (at < len) {
                        /* Taken: a retry goes on after it. */
                        l->sent_parts = part;
                        (void) labels_rewrite(u, u->spool, json, labels_text, "sent_parts",
                                              cJSON_CreateNumber(part));
                }
        }
        return OUTCOME_SENT;
}

/* The whole folded file: its size from fstat (a spool bounded in MB holds it). */
static int read_folded(int dir, const char *name, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t) 1 << 32)
                return -EFBIG;
        return read_file_at(dir, name, (size_t) st.st_size + 1, ret, ret_len);
}

static Outcome upload_one(Uploader *u, const char *base)
{
        _cleanup_free_ char *labels_text = NULL, *error = NULL, *body = NULL;
        char json[300], folded[300];
        UploadLabels l;
        size_t len = 0;
        Outcome o;
        int r;

        snprintf(json, sizeof(json), "%s.json", base);
        snprintf(folded, sizeof(folded), "%s.folded", base);
        r = read_file_at(u->spool, json, LABELS_MAX, &labels_text, NULL);
        if (r >= 0)
                r = upload_labels_parse(labels_text, &l, &error);
        if (r < 0) {
                log_error("%s: its labels file %s is not valid (%s): moved to %s/%s/", base, json,
                          error ? error : strerror(-r), u->spool_path, REJECTED_DIR);
                reject(u, base, NULL, 0, error ? error : strerror(-r), "a file pamprofd did not write?");
                return OUTCOME_REJECTED;
        }
        r = read_folded(u->spool, folded, &body, &len);
        if (r < 0) {
                log_error_errno(r, "%s: cannot read %s: moved to %s/%s/", base, folded, u->spool_path,
                                REJECTED_DIR);
                reject(u, base, labels_text, 0, strerror(-r), "the folded stacks are missing");
                return OUTCOME_REJECTED;
        }
        o = send_parts(u, base, labels_text, &l, body, len);
        if (o == OUTCOME_SENT) {
                (void) unlinkat(u->spool, folded, 0);
                (void) unlinkat(u->spool, json, 0);
                log_info("%s: sent to %s as %s (%zu bytes)", base, u->url, l.name, len);
                u->sent++;
        }
        return o;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The profiles ready to send: ID.json, oldest first (IDs start pam_SCENARIO_STAMP: by mtime would
 * be better across scenarios, names keep it simple and stable). */
static int spool_list(Uploader *u, char ***ret, size_t *ret_n)
{
        _cleanup_close_ int fd = openat(u->spool, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;

        if (!d)
                return -errno;
        fd = -1;
        while ((de = readdir(d))) {
                size_t k = strlen(de->d_name);
                char **p;
                if (de->d_name[0] == '.' || k <= 5 || k > 250 || strcmp(de->d_name + k - 5, ".json") != 0)
                        continue;
                p = reallocarray(names, n + 1, sizeof(*p));
                if (!p)
                        break;
                names = p;
                names[n] = strndup(de->d_name, k - 5);
                if (names[n])
                        n++;
        }
        closedir(d);
        qsort_safe(names, n, sizeof(*names), name_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

static int run(Uploader *u)
{
        char **names = NULL;
        size_t n = 0;
        unsigned failures;
        int64_t next;
        bool waiting = false;
        int r;

        backoff_read(u->spool, &failures, &next);
        if (!u->force && next > now_unix()) {
                log_info("Backing off after %u failed tries: the next is at %" PRId64 " (in %" PRId64
                         " s); --force sends now",
                         failures, next, next - now_unix());
                return 0;
        }
        r = spool_list(u, &names, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot read the spool %s", u->spool_path);
        for (size_t i = 0; i < n; i++) {
                if (!waiting && upload_one(u, names[i]) == OUTCOME_WAIT)
                        waiting = true;
                u->waiting += waiting;
                free(names[i]);
        }
        free(names);
        backoff_write(u->spool, waiting ? failures + 1 : 0);
        {
                _cleanup_free_ char *dropped = NULL;
                if (read_file_at(u->spool, DROPPED_FILE, 64, &dropped, NULL) >= 0 && atoi(dropped) > 0)
                        log_notice("%d profiles were dropped from the full spool before they could be sent "
                                   "(pamprofd's upload_spool_mb)",
                                   atoi(dropped));
        }
        if (n > 0 && waiting)
                log_notice("%u sent, %u rejected, %u waiting: the next try is in %u s (or at the next "
                           "session's end with --force)",
                           u->sent, u->rejected, u->waiting, upload_backoff(failures + 1));
        else if (n > 0)
                log_info("%u sent, %u rejected", u->sent, u->rejected);
        return 0;
}

static void help(void)
{
        printf("Usage: pamprofd-upload [OPTIONS]\n\n"
               "Sends the profiles pamprofd spooled to Grafana Pyroscope, then exits.\n\n"
               "  -c, --config FILE      pamprofd.conf to read pyroscope_url, pyroscope_token_file,\n"
               "                         pyroscope_tenant and state_dir from (default %s)\n"
               "      --spool DIR        the spool (default STATE_DIR/upload)\n"
               "      --url URL          instead of pyroscope_url\n"
               "      --timeout SECONDS  for each request (default 60)\n"
               "      --curl PATH        the curl executable (default /usr/bin/curl)\n"
               "      --force            try now, even while backing off\n"
               "  -h, --help             this text\n",
               PAMPROF_CONFIG_FILE);
}

typedef struct Args {
        const char *config_path, *spool, *url, *curl;
        unsigned timeout;
        bool force;
} Args;

/* 0: go on; 1: done (--help); -1: a usage error, said. */
static int parse_args(int argc, char **argv, Args *a)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' }, { "spool", required_argument, NULL, 's' },
                { "url", required_argument, NULL, 'u' },    { "timeout", required_argument, NULL, 't' },
                { "curl", required_argument, NULL, 'C' },   { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 }
        };
        char *end;
        int opt;

        while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
                switch (opt) {
                case 'c':
                        a->config_path = optarg;
                        break;
                case 's':
                        a->spool = optarg;
                        break;
                case 'u':
                        a->url = optarg;
                        break;
                case 't':
                        errno = 0;
                        a->timeout = (unsigned) strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || a->timeout == 0 || a->timeout > 3600) {
                                fprintf(stderr, "--timeout must be 1 to 3600 seconds, not \"%s\"\n", optarg);
                                return -1;
                        }
                        break;
                case 'C':
                        a->curl = optarg;
                        break;
                case 'f':
                        a->force = true;
                        break;
                case 'h':
                        help();
                        return 1;
                default:
                        return -1;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "pamprofd-upload takes no arguments\n");
                return -1;
        }
        return 0;
}

/* The configuration read and checked, into u: 0; 1 when there is nothing to send; -errno, said. */
static int configure(const Args *a, Config *c, Uploader *u, char **spool_default)
{
        _cleanup_free_ char *error = NULL;
        int r = config_load(c, a->config_path, false, &error);

        if (r >= 0 && a->url) {
                free(c->pyroscope_url);
                c->pyroscope_url = strdup(a->url);
        }
        if (r >= 0)
                r = c->pyroscope_url ? config_verify_pyroscope(c, &error) : -ENOMEM;
        if (r < 0) {
                log_error("%s", error ? error : "cannot read the configuration");
                return r;
        }
        if (!c->pyroscope_url[0]) {
                log_info("pyroscope_url is not set in %s: nothing to send", a->config_path);
                return 1;
        }
        u->url = strdup(c->pyroscope_url);
        while (u->url && strlen(u->url) > 8 && u->url[strlen(u->url) - 1] == '/')
                u->url[strlen(u->url) - 1] = '\0';
        u->http.tenant = c->pyroscope_tenant;
        r = u->url ? read_token(c->pyroscope_token_file, &u->token) : -ENOMEM;
        u->http.token = u->token;
        if (r >= 0 && !a->spool && asprintf(spool_default, "%s/upload", c->state_dir) < 0)
                r = -ENOMEM;
        u->spool_path = a->spool ? a->spool : *spool_default;
        return r;
}

int main(int argc, char **argv)
{
        Args a = { .config_path = PAMPROF_CONFIG_FILE, .curl = "/usr/bin/curl", .timeout = 60 };
        _cleanup_free_ char *spool_default = NULL;
        Uploader u = { .spool = -1 };
        Config c;
        int r;

        log_setup("pamprofd-upload");
        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r > 0 ? 0 : 2;
        u.http = (HttpTarget){ .curl = a.curl, .timeout = a.timeout };
        u.force = a.force;
        if (config_init(&c) < 0)
                return 1;
        r = configure(&a, &c, &u, &spool_default);
        if (r == 0) {
                u.spool = open(u.spool_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (u.spool < 0 && errno == ENOENT)
                        log_info("No spool at %s yet: nothing to send", u.spool_path);
                else if (u.spool < 0)
                        r = log_error_errno(errno, "Cannot open the spool %s", u.spool_path);
                else
                        r = run(&u);
        }
        if (u.spool >= 0)
                close(u.spool);
        free(u.url);
        free(u.token);
        config_done(&c);
        return r < 0 ? 1 : 0;
}
