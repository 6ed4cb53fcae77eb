/* SPDX-License-Identifier: MIT */
#include "merge-child.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"

/*
 * The threads' names come back NUL-separated, the first MERGE_NAMES_KEPT of them, each cut to
 * MERGE_NAME_MAX bytes: they go into the session's record, which must fit in one reply
 * (PAMPROF_MESSAGE_MAX) however many threads PAM made. The count is the profiles'.
 */
#define MERGE_NAMES_KEPT 64
#define MERGE_NAME_MAX 64
#define MERGE_NAMES_MAX (MERGE_NAMES_KEPT * (MERGE_NAME_MAX + 1))

typedef struct MergeReply {
        uint64_t profiles, frames, samples;
        double seconds;
        uint64_t names_len;
        char names[MERGE_NAMES_MAX];
} MergeReply;

struct MergeChild {
        Child *child;
        cJSON *threads;
        MergeDoneFunc done;
        void *userdata;
};

static int copy_all(int in, int out)
{
        struct stat st;
        off_t off = 0;

        if (fstat(in, &st) < 0)
                return -errno;
        while (off < st.st_size) {
                ssize_t k = sendfile(out, in, &off, (size_t) (st.st_size - off));
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
        }
        return 0;
}

static void names_put(MergeReply *reply, const cJSON *threads)
{
        const cJSON *t;
        size_t kept = 0;

        cJSON_ArrayForEach(t, threads)
        {
                size_t len = strlen(t->valuestring);

                if (kept++ == MERGE_NAMES_KEPT)
                        break;
                if (len > MERGE_NAME_MAX) {
                        len = MERGE_NAME_MAX;
                        /* not inside a UTF-8 sequence: back to the start of the character cut */
                        while (len > 0 && ((unsigned char) t->valuestring[len] & 0xc0) == 0x80)
                                len--;
                }
                memcpy(reply->names + reply->names_len, t->valuestring, len);
                reply->names[reply->names_len + len] = '\0';
                reply->names_len += len + 1;
        }
}

/* In the child: no capabilities, not root, the inputs and the output only. */
static int merge_work(void *arg, void *out, char **err)
{
        const MergeSpec *spec = arg;
        MergeReply *reply = out;
        MergeFacts facts = { .threads = cJSON_CreateArray(), .sampler = spec->sampler };
        int r;

        if (!facts.threads)
                return -ENOMEM;
        if (spec->n == 1 && spec->copy_single) {
                r = copy_all(spec->in[0].fd, spec->out_fd);
                if (r >= 0)
                        (void) profile_facts(spec->in[0].fd, &facts);
        } else
                r = profile_merge(spec->in, spec->n, spec->out_fd, &facts);
        if (r >= 0 && fsync(spec->out_fd) < 0)
                r = -errno;
        reply->profiles = facts.profiles;
        reply->frames = facts.frames;
        reply->samples = facts.samples;
        reply->seconds = facts.seconds;
        names_put(reply, facts.threads);
        cJSON_Delete(facts.threads);
        return r;
}

MergeChild *merge_child_free(MergeChild *m)
{
        if (!m)
                return NULL;
        child_free(m->child);
        free(m);
        return NULL;
}

static void merge_done(Child *c, const ChildResult *res, void *userdata)
{
        MergeChild *m = userdata;
        const MergeReply *reply = res->out;
        MergeFacts facts = {
                .profiles = (size_t) reply->profiles,
                .frames = (size_t) reply->frames,
                .samples = (size_t) reply->samples,
                .seconds = reply->seconds,
                .threads = m->threads,
        };
        size_t len = reply->names_len <= sizeof(reply->names) ? (size_t) reply->names_len : 0;

        m->child = child_free(m->child);
        /* The child read PAM's strings: what it says is taken within its bounds, names as text. */
        for (size_t at = 0, kept = 0; m->threads && at < len && kept < MERGE_NAMES_KEPT; kept++) {
                size_t k = strnlen(reply->names + at, len - at);
                char *name = strndup(reply->names + at, k);
                if (name)
                        cJSON_AddItemToArray(m->threads, cJSON_CreateString(name));
                free(name);
                at += k + 1;
        }
        m->done(res->r, &facts, res->error, m->userdata);
}

int merge_child_start(sd_event *e, const MergeSpec *spec, MergeDoneFunc done, void *userdata,
                      MergeChild **ret)
{
        MergeChild *m = calloc(1, sizeof(*m));
        int *fds = calloc(spec->n + 1, sizeof(int)), r;

        if (!m || !fds) {
                free(m);
                free(fds);
                return -ENOMEM;
        }
        for (size_t i = 0; i < spec->n; i++)
                fds[i] = spec->in[i].fd;
        fds[spec->n] = spec->out_fd;
        m->threads = spec->threads;
        m->done = done;
        m->userdata = userdata;
        r = child_start(e,
                        &(ChildSpec){ .work = merge_work,
                                      .arg = (void *) spec,
                                      .out_size = sizeof(MergeReply),
                                      .unprivileged = true,
                                      .uid = spec->uid,
                                      .gid = spec->gid,
                                      .fds = fds,
                                      .n_fds = spec->n + 1,
                                      .timeout = MERGE_TIMEOUT },
                        merge_done, m, &m->child);
        free(fds);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}
