/* SPDX-License-Identifier: MIT */
#include "upload-request.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "format-util.h"

/* A label's name, as Prometheus and Pyroscope take it. */
static bool label_name_ok(const char *s)
{
        if (!*s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_'))
                        return false;
        return true;
}

/* A value or an application name: what the daemon writes (a host name, a scenario label, a sampler);
 * nothing that could end a label ({},=) or need quoting. */
static bool value_ok(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '-' || *s == '.'))
                        return false;
        return true;
}

static int get_string(const cJSON *o, const char *key, char *out, size_t size)
{
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

        if (!v || strlen(v) >= size || !value_ok(v))
                return -EBADMSG;
        snprintf(out, size, "%s", v);
        return 0;
}

static int get_int(const cJSON *o, const char *key, double lo, double hi, int64_t *ret)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi ||
            v->valuedouble != floor(v->valuedouble))
                return -EBADMSG;
        *ret = (int64_t) v->valuedouble;
        return 0;
}

int upload_labels_parse(const char *text, UploadLabels *ret, char **ret_error)
{
        cJSON *j = cJSON_Parse(text);
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels"), *l;
        UploadLabels u = { 0 };
        int64_t rate = 0, sent = 0;
        const char *what = NULL;

        *ret_error = NULL;
        if (!cJSON_IsObject(j))
                what = "not a JSON object";
        else if (get_string(j, "name", u.name, sizeof(u.name)) < 0 || !strchr(u.name, '.'))
                what = "no valid \"name\" (an application name and a type after its last dot)";
        else if (get_int(j, "from", 0, 1e11, &u.from) < 0 || get_int(j, "until", 0, 1e11, &u.until) < 0 ||
                 u.until < u.from)
                what = "no valid \"from\" and \"until\" (unix seconds)";
        else if (get_int(j, "sampleRate", 1, 1e6, &rate) < 0)
                what = "no valid \"sampleRate\"";
        else if (get_string(j, "spyName", u.spy_name, sizeof(u.spy_name)) < 0)
                what = "no valid \"spyName\"";
        else if (cJSON_GetObjectItemCaseSensitive(j, "sent_parts") &&
                 get_int(j, "sent_parts", 0, 1e6, &sent) < 0)
                what = "an invalid \"sent_parts\"";
        else if (!cJSON_IsObject(labels))
                what = "no \"labels\" object";
        for (l = what ? NULL : labels->child; l; l = l->next) {
                if (u.n_labels == UPLOAD_LABELS_MAX || !label_name_ok(l->string) ||
                    strlen(l->string) >= sizeof(u.labels[0].key) || !cJSON_IsString(l) ||
                    !value_ok(l->valuestring) || strlen(l->valuestring) >= sizeof(u.labels[0].value)) {
                        what = "a label that is not name = [A-Za-z0-9._-]+ (or more than 8)";
                        break;
                }
                snprintf(u.labels[u.n_labels].key, sizeof(u.labels[0].key), "%s", l->string);
                snprintf(u.labels[u.n_labels].value, sizeof(u.labels[0].value), "%s", l->valuestring);
                u.n_labels++;
        }
        cJSON_Delete(j);
        if (what) {
                *ret_error = format_new("%s", what);
                return -EBADMSG;
        }
        u.sample_rate = (unsigned) rate;
        u.sent_parts = (unsigned) sent;
        *ret = u;
        return 0;
}

static void put_encoded(FILE *f, const char *s)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~')
                        fputc(c, f);
                else
                        fprintf(f, "%%%02X", c);
        }
}

char *upload_query(const UploadLabels *l)
{
        char *text = NULL, *name = NULL;
        size_t len = 0, nlen = 0;
        FILE *f = open_memstream(&name, &nlen), *q;

        if (!f)
                return NULL;
        fprintf(f, "%s{", l->name);
        for (size_t i = 0; i < l->n_labels; i++)
                fprintf(f, "%s%s=%s", i ? "," : "", l->labels[i].key, l->labels[i].value);
        fputc('}', f);
        if (fclose(f) != 0)
                return NULL;
        q = open_memstream(&text, &len);
        if (!q) {
                free(name);
                return NULL;
        }
        fputs("name=", q);
        put_encoded(q, name);
        fprintf(q, "&from=%lld&until=%lld&format=folded&sampleRate=%u&spyName=", (long long) l->from,
                (long long) l->until, l->sample_rate);
        put_encoded(q, l->spy_name);
        fputs("&units=samples&aggregationType=sum", q);
        free(name);
        if (fclose(q) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

size_t upload_part_end(const char *body, size_t len, size_t at, size_t max)
{
        size_t end = at;

        if (len - at <= max)
                return len;
        /* the last newline within max bytes */
        for (size_t i = at + max; i > at; i--)
                if (body[i - 1] == '\n') {
                        end = i;
                        break;
                }
        if (end == at) {
                const char *nl = memchr(body + at, '\n', len - at);
                end = nl ? (size_t) (nl - body) + 1 : len;
        }
        return end;
}

UploadVerdict upload_verdict(int status)
{
        if (status >= 200 && status < 300)
                return UPLOAD_SENT;
        if (status <= 0 || status >= 500 || status == 408 || status == 429)
                return UPLOAD_RETRY;
        return UPLOAD_REJECT;
}

unsigned upload_backoff(unsigned failures)
{
        if (failures == 0)
                return 0;
        return failures > 6 ? 3600 : 60u << (failures - 1) > 3600 ? 3600 : 60u << (failures - 1);
}

const char *upload_reject_hint(int status, const char *answer, int64_t age)
{
        bool old = answer &&
                (strcasestr(answer, "too old") || strcasestr(answer, "older than") ||
                 strcasestr(answer, "out of bounds") || strcasestr(answer, "outside"));

        if (status == 401 || status == 403)
                return "the server refused the credentials: check pyroscope_token_file (a token with write "
                       "access) and pyroscope_tenant in pamprofd.conf";
        if (status == 404)
                return "no /ingest there: pyroscope_url must be the server's base URL (no /ingest, no path "
                       "of the UI)";
        if (status == 413)
                return "the body is larger than the server takes (pamprofd-upload cuts parts at 4,000,000 "
                       "bytes): raise the server's request size limit";
        if (old || age > 3600 || age < -600)
                return "the profile's time is outside what the server accepts (Pyroscope takes samples up "
                       "to 1 h old and 10 min ahead by default); a machine without a real-time clock must "
                       "have its clock set (systemd-timesyncd, chrony) before a session, or the server's "
                       "reject_older_than limit raised";
        return "the server refused the profile as it is: its answer above says why; the profile is kept "
               "in the spool's rejected/ directory";
}
