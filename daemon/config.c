/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build-config.h"
#include "cleanup.h"
#include "log.h"
#include "profiler.h"
#include "format-util.h"

typedef enum KeyType {
        KEY_STRING,
        KEY_PATH, /* absolute path */
        KEY_SECONDS,
        KEY_UINT,
        KEY_BOOL,
} KeyType;

typedef struct KeyDef {
        ConfigKeyInfo info;
        KeyType type;
        size_t offset;
        double min, max; /* seconds or integers */
        const char *def;
} KeyDef;

#define K(k, fl, t, field, lo, hi, d, mv, h)                            \
        {                                                               \
                { k, fl, mv, h }, t, offsetof(Config, field), lo, hi, d \
        }

static const KeyDef keys[] = {
        K("socket", "socket", KEY_PATH, socket, 0, 0, PAMPROF_SOCKET_PATH, "PATH",
          "control socket (unless systemd passes one)"),
        K("output_dir", "output-dir", KEY_PATH, output_dir, 0, 0, PAMPROF_OUTPUT_DIR, "DIR",
          "where sessions are written when the client gives no --output"),
        K("state_dir", "state-dir", KEY_PATH, state_dir, 0, 0, PAMPROF_STATE_DIR, "DIR",
          "the daemon's session records and staging area"),
        K("target_match", "target-match", KEY_STRING, target_match, 0, 0,
          "uvicorn[^ ]*( .*)? petal_app_manager\\.main:app", "REGEX",
          "extended regular expression matched against PAM's command line"),
        K("target_unit", "target-unit", KEY_STRING, target_unit, 0, 0, "", "UNIT",
          "follow PAM as this systemd unit's main process (D-Bus) instead of target_match"),
        K("allowed_group", "allowed-group", KEY_STRING, allowed_group, 0, 0, "pamprof", "GROUP",
          "group whose members may start and stop sessions (root always may)"),
        K("pyspy_path", "pyspy-path", KEY_STRING, pyspy_path, 0, 0, "", "PATH",
          "py-spy executable; empty: search PATH, then PAM's virtualenv"),
        K("austin_path", "austin-path", KEY_STRING, austin_path, 0, 0, "", "PATH",
          "austin executable; empty: search PATH, then PAM's virtualenv"),
        K("profiler", "profiler", KEY_STRING, profiler, 0, 0, "py-spy", "NAME",
          "the sampler a session runs unless the client names one: py-spy or austin"),
        K("proc_root", "proc-root", KEY_PATH, proc_root, 0, 0, "/proc", "DIR",
          "where procfs is mounted (tests point this at fixture trees)"),
        K("interval", "interval", KEY_SECONDS, interval, 0.1, 3600, "1", "SECONDS",
          "default sampling interval"),
        K("max_duration", "max-duration", KEY_SECONDS, max_duration, 0, 31 * 86400.0, "86400", "SECONDS",
          "longest session allowed; 0 for no limit"),
        K("scan_interval", "scan-interval", KEY_SECONDS, scan_interval, 1, 3600, "2", "SECONDS",
          "how often to look for PAM while it is not running"),
        K("pss_interval", "pss-interval", KEY_SECONDS, pss_interval, 0, 86400, "10", "SECONDS",
          "how often to read PSS (smaps_rollup, costly); 0 never"),
        K("stop_timeout", "stop-timeout", KEY_SECONDS, stop_timeout, 1, 600, "10", "SECONDS",
          "how long the profiler (py-spy, Austin) may take to finish its file after SIGINT"),
        K("chunk", "chunk", KEY_SECONDS, chunk, 0, 86400, "600", "SECONDS",
          "restart the profiler this often, merging the runs at stop (bounds its memory); 0 never"),
        K("max_profile_mb", "max-profile-mb", KEY_UINT, max_profile_mb, 0, 1048576, "300", "MB",
          "stop profiling (sampling goes on) before the chunks pass this size; 0 no limit"),
        K("rate", "rate", KEY_UINT, rate, 1, 1000, "100", "HZ", "the profiler's default sampling rate"),
        K("max_connections", "max-connections", KEY_UINT, max_connections, 1, 4096, "64", "N",
          "clients connected at once"),
        K("min_free_mb", "min-free-mb", KEY_UINT, min_free_mb, 0, 1048576, "64", "MB",
          "free space the output filesystem must keep: below it a session does not start, or stops"),
        K("keep_sessions", "keep-sessions", KEY_UINT, keep_sessions, 0, 1000000, "200", "N",
          "keep at most N sessions, removing the oldest (never the running one); 0 no limit"),
        K("keep_mb", "keep-mb", KEY_UINT, keep_mb, 0, 1048576, "2048", "MB",
          "keep at most this many MB of sessions, removing the oldest; 0 no limit"),
        K("threads", "threads", KEY_BOOL, threads, 0, 0, "yes", "BOOL",
          "write per-thread CPU to _threads.csv"),
        K("metrics_dir", "metrics-dir", KEY_STRING, metrics_dir, 0, 0, "", "DIR",
          "write pamprofd.prom here for node_exporter's textfile collector; empty: off"),
        K("metrics_interval", "metrics-interval", KEY_SECONDS, metrics_interval, 1, 3600, "15", "SECONDS",
          "how often pamprofd.prom is rewritten while no session samples"),
        K("pyroscope_url", "pyroscope-url", KEY_STRING, pyroscope_url, 0, 0, "", "URL",
          "Grafana Pyroscope to send each session's profile to (pamprofd-upload); empty: off"),
        K("pyroscope_token_file", "pyroscope-token-file", KEY_STRING, pyroscope_token_file, 0, 0, "", "PATH",
          "file holding a bearer token for Pyroscope (read by pamprofd-upload); empty: none"),
        K("pyroscope_tenant", "pyroscope-tenant", KEY_STRING, pyroscope_tenant, 0, 0, "", "ID",
          "Pyroscope tenant sent as X-Scope-OrgID; empty: none"),
        K("upload_spool_mb", "upload-spool-mb", KEY_UINT, upload_spool_mb, 1, 1048576, "64", "MB",
          "profiles waiting for pamprofd-upload keep at most this much, the oldest dropped first"),
        K("recorder", "recorder", KEY_BOOL, recorder, 0, 0, "off", "BOOL",
          "the flight recorder: keep the last recorder_window of rows and stacks while PAM runs"),
        K("recorder_window", "recorder-window", KEY_SECONDS, recorder_window, 5, 3600, "120", "SECONDS",
          "how much a capture holds before its trigger"),
        K("recorder_after", "recorder-after", KEY_SECONDS, recorder_after, 0, 600, "30", "SECONDS",
          "how much a capture holds after its trigger"),
        K("recorder_rate", "recorder-rate", KEY_UINT, recorder_rate, 0, 1000, "5", "HZ",
          "the recorder's Austin sampling rate; 0: rows only, no stacks"),
        K("recorder_cpu_percent", "recorder-cpu-percent", KEY_UINT, recorder_cpu_percent, 0, 100000, "80",
          "PERCENT",
          "capture when PAM's CPU (100 = one core) reaches this for recorder_cpu_samples rows; 0 off"),
        K("recorder_cpu_samples", "recorder-cpu-samples", KEY_UINT, recorder_cpu_samples, 1, 3600, "3", "N",
          "rows in a row over recorder_cpu_percent before a CPU capture"),
        K("recorder_cpu_rearm_percent", "recorder-cpu-rearm-percent", KEY_UINT, recorder_cpu_rearm_percent,
          0, 100000, "50", "PERCENT", "the CPU trigger re-arms only once PAM's CPU falls below this"),
        K("recorder_rss_mb", "recorder-rss-mb", KEY_UINT, recorder_rss_mb, 0, 1048576, "100", "MB",
          "capture when RSS rises more than this within the window; 0 off"),
        K("recorder_threads_jump", "recorder-threads-jump", KEY_UINT, recorder_threads_jump, 0, 100000, "20",
          "N", "capture when the thread count rises this much within the window; 0 off"),
        K("recorder_on_exit", "recorder-on-exit", KEY_BOOL, recorder_on_exit, 0, 0, "yes", "BOOL",
          "capture the window before PAM exits"),
        K("recorder_cooldown", "recorder-cooldown", KEY_SECONDS, recorder_cooldown, 0, 86400, "300",
          "SECONDS", "no automatic capture this soon after the last one"),
        K("recorder_max_per_hour", "recorder-max-per-hour", KEY_UINT, recorder_max_per_hour, 0, 1000, "6",
          "N", "at most this many automatic captures an hour; 0 no limit"),
};
_Static_assert(ELEMENTSOF(keys) <= CONFIG_KEYS_MAX, "CONFIG_KEYS_MAX: room for every key's flag");

size_t config_keys(const ConfigKeyInfo **ret)
{
        static ConfigKeyInfo infos[ELEMENTSOF(keys)];

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                infos[i] = keys[i].info;
        *ret = infos;
        return ELEMENTSOF(keys);
}

static const KeyDef *key_find(const char *key)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(keys[i].info.key, key) == 0 || strcmp(keys[i].info.flag, key) == 0)
                        return &keys[i];
        return NULL;
}

static int parse_bool(const char *v, bool *ret)
{
        static const char *const yes[] = { "yes", "true", "on", "1" },
                                 *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int set_value(Config *c, const KeyDef *k, const char *value, char **ret_reason)
{
        void *p = (char *) c + k->offset;
        char *end;
        usec_t u;
        unsigned long n;
        bool b;

        switch (k->type) {
        case KEY_PATH:
                if (value[0] != '/') {
                        *ret_reason =
                                format_new("%s must be an absolute path, not \"%s\"", k->info.key, value);
                        return -EINVAL;
                }
                _fallthrough_;
        case KEY_STRING: {
                char *s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(*(char **) p);
                *(char **) p = s;
                return 0;
        }
        case KEY_SECONDS:
                if (parse_seconds(value, &u) < 0 || (double) u / 1e6 < k->min || (double) u / 1e6 > k->max) {
                        *ret_reason = format_new("%s must be a number of seconds from %g to %g, not \"%s\"",
                                                 k->info.key, k->min, k->max, value);
                        return -EINVAL;
                }
                *(usec_t *) p = u;
                return 0;
        case KEY_UINT:
                errno = 0;
                n = strtoul(value, &end, 10);
                if (errno || end == value || *end || !isdigit((unsigned char) value[0]) || n < k->min ||
                    n > k->max) {
                        *ret_reason = format_new("%s must be a whole number from %.0f to %.0f, not \"%s\"",
                                                 k->info.key, k->min, k->max, value);
                        return -EINVAL;
                }
                *(unsigned *) p = (unsigned) n;
                return 0;
        case KEY_BOOL:
                if (parse_bool(value, &b) < 0) {
                        *ret_reason = format_new("%s must be yes or no, not \"%s\"", k->info.key, value);
                        return -EINVAL;
                }
                *(bool *) p = b;
                return 0;
        }
        return -EINVAL;
}

const char *config_string(const Config *c, const char *key)
{
        const KeyDef *k = key_find(key);
        const char *v;

        if (!k || (k->type != KEY_STRING && k->type != KEY_PATH))
                return "";
        v = *(char *const *) ((const char *) c + k->offset);
        return v ? v : "";
}

int config_set(Config *c, const char *key, const char *value, char **ret_reason)
{
        const KeyDef *k = key_find(key);

        *ret_reason = NULL;
        if (!k) {
                *ret_reason = format_new("unknown key \"%s\"", key);
                return -ENOENT;
        }
        return set_value(c, k, value, ret_reason);
}

int config_init(Config *c)
{
        char *why = NULL;

        *c = (Config){ 0 };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (set_value(c, &keys[i], keys[i].def, &why) < 0) {
                        free(why);
                        config_done(c);
                        return -ENOMEM;
                }
        return 0;
}

void config_done(Config *c)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (keys[i].type == KEY_STRING || keys[i].type == KEY_PATH) {
                        char **p = (char **) ((char *) c + keys[i].offset);
                        free(*p);
                        *p = NULL;
                }
}

static char *strip(char *s)
{
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = '\0';
        return s;
}

/* Values may be quoted to keep leading '#' or spaces: key = "a # b". */
static int unquote(char *v, char **ret)
{
        size_t n = strlen(v);

        if (n >= 1 && (v[0] == '"' || v[0] == '\'')) {
                if (n < 2 || v[n - 1] != v[0])
                        return -EINVAL;
                v[n - 1] = '\0';
                v++;
        }
        *ret = v;
        return 0;
}

static int parse_line(Config *c, char *line, char **ret_reason)
{
        char *eq, *key, *value, *s = strip(line);

        if (*s == '\0' || *s == '#' || *s == ';')
                return 0;
        eq = strchr(s, '=');
        if (!eq) {
                *ret_reason = format_new("expected \"key = value\", got \"%.80s\"", s);
                return -EINVAL;
        }
        *eq = '\0';
        key = strip(s);
        value = strip(eq + 1);
        if (*key == '\0') {
                *ret_reason = format_new("missing key before '='");
                return -EINVAL;
        }
        if (unquote(value, &value) < 0) {
                *ret_reason = format_new("unterminated quote in the value of %s", key);
                return -EINVAL;
        }
        if (strchr(key, '-') || !key_find(key)) {
                *ret_reason = format_new("unknown key \"%.64s\"", key);
                return -EINVAL;
        }
        return config_set(c, key, value, ret_reason);
}

int config_parse(Config *c, const char *filename, const char *text, char **ret_error)
{
        const char *p = text;
        unsigned lineno = 0;

        *ret_error = NULL;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                _cleanup_free_ char *line = strndup(p, n), *why = NULL;
                int r;

                lineno++;
                if (!line)
                        return -ENOMEM;
                if (memchr(p, '\0', n) || strlen(line) != n) {
                        *ret_error = format_new("%s:%u: NUL byte in line", filename, lineno);
                        return -EINVAL;
                }
                r = parse_line(c, line, &why);
                if (r < 0) {
                        *ret_error = format_new("%s:%u: %s", filename, lineno, why ? why : "invalid line");
                        return -EINVAL;
                }
                p += n + (nl ? 1 : 0);
        }
        return 0;
}

int config_load(Config *c, const char *path, bool required, char **ret_error)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0, len;

        *ret_error = NULL;
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT && !required)
                        return 0;
                *ret_error = format_new("%s: cannot open: %s", path, strerror(errno));
                return -errno;
        }
        text = malloc(size = 64 * 1024 + 1);
        if (!text)
                return -ENOMEM;
        len = fread(text, 1, size, f);
        if (ferror(f)) {
                *ret_error = format_new("%s: cannot read: %s", path, strerror(errno));
                return -EIO;
        }
        if (len >= size - 1) {
                *ret_error = format_new("%s: larger than 64 KiB; is this the right file?", path);
                return -EFBIG;
        }
        text[len] = '\0';
        if (strlen(text) != len) {
                *ret_error = format_new("%s: contains a NUL byte; is this the right file?", path);
                return -EINVAL;
        }
        return config_parse(c, path, text, ret_error);
}

/* The build tool systemd/gen-default-conf.c, compiled for the build machine
 * without the rest of the daemon, needs the table, config_init and
 * config_dump only; pamprofd-upload (daemon/upload/) also config_load and the
 * Pyroscope keys' check. */
static bool printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f || *s == '"' || *s == '\\')
                        return false;
        return true;
}

int config_verify_pyroscope(const Config *c, char **ret_error)
{
        const char *u = c->pyroscope_url;

        *ret_error = NULL;
        if (u[0] &&
            ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) || !printable(u) ||
             strchr(u, '?') || strchr(u, '#'))) {
                *ret_error = format_new("pyroscope_url must be an http:// or https:// URL without spaces, "
                                        "quotes, query or fragment, not \"%s\"",
                                        u);
                return -EINVAL;
        }
        if (c->pyroscope_token_file[0] && c->pyroscope_token_file[0] != '/') {
                *ret_error = format_new("pyroscope_token_file must be an absolute path, not \"%s\"",
                                        c->pyroscope_token_file);
                return -EINVAL;
        }
        if (!printable(c->pyroscope_tenant)) {
                *ret_error =
                        format_new("pyroscope_tenant must have no spaces, quotes or control characters");
                return -EINVAL;
        }
        return 0;
}

#ifndef PAMPROF_CONFIG_DEFAULTS_ONLY
int config_verify(const Config *c, char **ret_error)
{
        regex_t re;
        int r;

        *ret_error = NULL;
        r = regcomp(&re, c->target_match, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                char buf[256];
                regerror(r, &re, buf, sizeof(buf));
                *ret_error = format_new("target_match \"%s\" is not a valid regular expression: %s",
                                        c->target_match, buf);
                return -EINVAL;
        }
        regfree(&re);
        if (c->target_match[0] == '\0') {
                *ret_error = format_new("target_match must not be empty");
                return -EINVAL;
        }
        if (c->max_duration > 0 && c->max_duration < c->interval) {
                *ret_error = format_new("max_duration is shorter than interval");
                return -EINVAL;
        }
        if (c->metrics_dir[0] && c->metrics_dir[0] != '/') {
                *ret_error = format_new("metrics_dir must be empty or an absolute path, not \"%s\"",
                                        c->metrics_dir);
                return -EINVAL;
        }
        r = config_verify_pyroscope(c, ret_error);
        if (r < 0)
                return r;
        if (!profiler_backend_find(c->profiler)) {
                *ret_error = format_new("profiler must be py-spy or austin, not \"%s\"", c->profiler);
                return -EINVAL;
        }
        return 0;
}

int config_load_source(const ConfigSource *src, Config *ret)
{
        _cleanup_free_ char *error = NULL;
        Config c;
        int r;

        r = config_init(&c);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the configuration");
        r = config_load(&c, src->path, src->required, &error);
        if (r < 0) {
                log_error("%s", error ? error : "cannot load the configuration");
                goto fail;
        }
        for (size_t i = 0; i < ELEMENTSOF(keys) && i < CONFIG_KEYS_MAX; i++) {
                _cleanup_free_ char *why = NULL;
                if (!src->values[i])
                        continue;
                r = config_set(&c, keys[i].info.key, src->values[i], &why);
                if (r < 0) {
                        log_error("--%s: %s", keys[i].info.flag, why ? why : "invalid value");
                        goto fail;
                }
        }
        r = config_verify(&c, &error);
        if (r < 0) {
                log_error("%s", error);
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        config_done(&c);
        return r;
}

#endif

void config_dump(const Config *c, FILE *f)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const KeyDef *k = &keys[i];
                const void *p = (const char *) c + k->offset;

                fprintf(f, "# %s\n", k->info.help);
                switch (k->type) {
                case KEY_STRING:
                case KEY_PATH:
                        fprintf(f, "%s = %s\n", k->info.key, *(char *const *) p);
                        break;
                case KEY_SECONDS:
                        fprintf(f, "%s = %g\n", k->info.key, (double) *(const usec_t *) p / 1e6);
                        break;
                case KEY_UINT:
                        fprintf(f, "%s = %u\n", k->info.key, *(const unsigned *) p);
                        break;
                case KEY_BOOL:
                        fprintf(f, "%s = %s\n", k->info.key, *(const bool *) p ? "yes" : "no");
                        break;
                }
        }
}
