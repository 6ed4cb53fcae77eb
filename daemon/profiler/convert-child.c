/* SPDX-License-Identifier: MIT */
#include "convert-child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "cleanup.h"
#include "log.h"

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

struct ConvertChild {
        sd_event *event;
        Child *child;   /* the conversion, then the removal of its inputs */
        int staging_fd; /* the caller's */
        char tmp[300], out[256], raw[256], names[256];
        bool remove_inputs;
        ProfileConvertResult result;
        ConvertDoneFunc done;
        void *userdata;
};

typedef struct ConvertJob {
        const ProfilerBackend *backend;
        ProfileConvertInput in;
} ConvertJob;

/* In the child: the descriptors it was given, nothing else. */
static int convert_work(void *arg, void *out, char **err)
{
        ConvertJob *j = arg;
        ProfileConvertResult *res = out;
        int r = j->backend->convert(&j->in, res);

        if (r >= 0 && fsync(j->in.out_fd) < 0)
                r = -errno;
        return res->r = r;
}

ConvertChild *convert_child_free(ConvertChild *c)
{
        if (!c)
                return NULL;
        if (c->child) {
                c->child = child_free(c->child);
                (void) unlinkat(c->staging_fd, c->tmp, 0);
        }
        free(c);
        return NULL;
}

static void on_inputs_removed(Child *child, const ChildResult *res, void *userdata)
{
        ConvertChild *c = userdata;

        c->child = child_free(c->child);
        c->done(&c->result, c->userdata);
}

/* The raw output (and its names) are converted: they go, in a child (a 100 MB file takes a while). */
static bool remove_inputs(ConvertChild *c)
{
        const char *names[] = { c->raw, c->names };

        return c->remove_inputs &&
                child_remove_start(c->event, c->staging_fd, names, c->names[0] ? 2 : 1, on_inputs_removed, c,
                                   &c->child) >= 0;
}

static void convert_done(Child *child, const ChildResult *res, void *userdata)
{
        ConvertChild *c = userdata;
        ProfileConvertResult *conv = &c->result;

        c->child = child_free(c->child);
        memcpy(conv, res->out, sizeof(*conv));
        conv->message[sizeof(conv->message) - 1] = '\0';
        conv->r = res->r;
        if (conv->r < 0 && !conv->message[0] && res->error)
                snprintf(conv->message, sizeof(conv->message), "%s", res->error);
        if (conv->r >= 0 && renameat(c->staging_fd, c->tmp, c->staging_fd, c->out) < 0) {
                conv->r = -errno;
                snprintf(conv->message, sizeof(conv->message), "%s", strerror(errno));
        }
        if (conv->r < 0)
                (void) unlinkat(c->staging_fd, c->tmp, 0);
        if (conv->r >= 0 && remove_inputs(c))
                return;
        c->done(conv, c->userdata);
}

int convert_child_start(sd_event *e, const ConvertSpec *spec, ConvertDoneFunc done, void *userdata,
                        ConvertChild **ret)
{
        _cleanup_close_ int raw = -1, names = -1, out = -1, spool = -1;
        ConvertChild *c;
        ConvertJob job;
        int r;

        if (!spec->backend->convert)
                return -EOPNOTSUPP;
        raw = openat(spec->staging_fd, spec->raw_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (raw < 0)
                return -errno;
        if (spec->names_name)
                names = openat(spec->staging_fd, spec->names_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = e;
        c->staging_fd = spec->staging_fd;
        c->remove_inputs = spec->remove_inputs;
        snprintf(c->raw, sizeof(c->raw), "%s", spec->raw_name);
        snprintf(c->names, sizeof(c->names), "%s", spec->names_name ? spec->names_name : "");
        c->done = done;
        c->userdata = userdata;
        snprintf(c->out, sizeof(c->out), "%s", spec->out_name);
        snprintf(c->tmp, sizeof(c->tmp), ".%s.tmp", spec->out_name);
        (void) unlinkat(spec->staging_fd, c->tmp, 0);
        out = openat(spec->staging_fd, c->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0) {
                r = -errno;
                free(c);
                return r;
        }
        /* The scratch file has no name: nothing is left behind, whatever happens. */
        spool = openat(spec->staging_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        job = (ConvertJob){ .backend = spec->backend,
                            .in = { .raw_fd = raw,
                                    .names_fd = names,
                                    .out_fd = out,
                                    .spool_fd = spool,
                                    .subprocesses = spec->subprocesses,
                                    .version = spec->version } };
        /* The staged files are the daemon's: the child converts as nobody, with these four. */
        r = child_start(e,
                        &(ChildSpec){ .work = convert_work,
                                      .arg = &job,
                                      .out_size = sizeof(ProfileConvertResult),
                                      .unprivileged = true,
                                      .uid = (uid_t) -1,
                                      .gid = (gid_t) -1,
                                      .fds = (int[]){ raw, names, out, spool },
                                      .n_fds = 4,
                                      .timeout = 10 * 60 * USEC_PER_SEC },
                        convert_done, c, &c->child);
        if (r < 0) {
                (void) unlinkat(spec->staging_fd, c->tmp, 0);
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* Leftovers: a list of names, converted one child at a time. */

#define LEFTOVERS_MAX 64

struct Leftovers {
        sd_event *event;
        int staging_fd;
        char id[128];
        char names[LEFTOVERS_MAX][256];
        size_t n, next, converted;
        char stale[2 * LEFTOVERS_MAX][300]; /* raw outputs (and names) converted before the crash */
        size_t n_stale;
        bool removing;
        ConvertChild *current;
        Child *remove;
        LeftoversDoneFunc done;
        void *userdata;
};

/* "ID.N.SUFFIX" of a backend with a converter: the backend, and N. */
static const ProfilerBackend *leftover_of(const char *name, const char *id, size_t *ret_n)
{
        size_t idlen = strlen(id);
        char *end;
        unsigned long n;

        if (strncmp(name, id, idlen) != 0 || name[idlen] != '.')
                return NULL;
        n = strtoul(name + idlen + 1, &end, 10);
        if (end == name + idlen + 1 || *end != '.' || n == 0)
                return NULL;
        for (size_t i = 0; profiler_backends[i]; i++) {
                const ProfilerBackend *b = profiler_backends[i];
                if (b->convert && strcmp(end + 1, b->output_suffix) == 0) {
                        *ret_n = n;
                        return b;
                }
        }
        return NULL;
}

/* The leftovers not converted before the crash; the others' raw files go. */
static size_t leftovers_list(Leftovers *l)
{
        _cleanup_close_ int fd = openat(l->staging_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        DIR *d;

        if (fd < 0 || !(d = fdopendir(fd)))
                return 0;
        TAKE_FD(fd);
        while ((de = readdir(d)) && l->n < LEFTOVERS_MAX) {
                char out[300], thr[300];
                struct stat st;
                size_t n = 0;

                if (!leftover_of(de->d_name, l->id, &n))
                        continue;
                profiler_staged_name(l->id, n, "speedscope.json", out, sizeof(out));
                if (fstatat(l->staging_fd, out, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                        /* converted before the crash: it goes, with its names, once the others are done */
                        if (l->n_stale + 2 > ELEMENTSOF(l->stale))
                                continue;
                        profiler_staged_name(l->id, n, "threads", thr, sizeof(thr));
                        snprintf(l->stale[l->n_stale++], sizeof(l->stale[0]), "%s", de->d_name);
                        snprintf(l->stale[l->n_stale++], sizeof(l->stale[0]), "%s", thr);
                        continue;
                }
                snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", de->d_name);
        }
        closedir(d);
        return l->n + l->n_stale;
}

static bool leftovers_next(Leftovers *l);

static void on_leftover_converted(const ProfileConvertResult *res, void *userdata)
{
        Leftovers *l = userdata;
        const char *name = l->names[l->next - 1];
        size_t n = 0;
        const ProfilerBackend *b = leftover_of(name, l->id, &n);

        /* res belongs to the child being freed: read it first. */
        ProfileConvertResult got = *res;

        l->current = convert_child_free(l->current);
        if (got.r < 0)
                log_warning("%s: cannot convert the staged %s output %s: %s", l->id, b->name, name,
                            got.message[0] ? got.message : strerror(-got.r));
        else
                l->converted++;
        if (!leftovers_next(l))
                l->done(l->converted, l->userdata);
}

static void on_stale_removed(Child *c, const ChildResult *res, void *userdata)
{
        Leftovers *l = userdata;

        l->remove = child_free(l->remove);
        l->done(l->converted, l->userdata);
}

/* The outputs converted before the crash, removed in a child; false when none or it cannot start. */
static bool stale_remove(Leftovers *l)
{
        const char *names[2 * LEFTOVERS_MAX];

        if (l->removing || l->n_stale == 0)
                return false;
        l->removing = true;
        for (size_t i = 0; i < l->n_stale; i++)
                names[i] = l->stale[i];
        return child_remove_start(l->event, l->staging_fd, names, l->n_stale, on_stale_removed, l,
                                  &l->remove) >= 0;
}

/* Starts the next conversion; false when none is left to start. */
static bool leftovers_next(Leftovers *l)
{
        while (l->next < l->n) {
                const char *name = l->names[l->next++];
                char out[300], thr[300];
                size_t n = 0;
                const ProfilerBackend *b = leftover_of(name, l->id, &n);
                int r;

                profiler_staged_name(l->id, n, "speedscope.json", out, sizeof(out));
                profiler_staged_name(l->id, n, "threads", thr, sizeof(thr));
                r = convert_child_start(l->event,
                                        &(ConvertSpec){ .backend = b,
                                                        .staging_fd = l->staging_fd,
                                                        .raw_name = name,
                                                        .names_name = thr,
                                                        .out_name = out,
                                                        .remove_inputs = true },
                                        on_leftover_converted, l, &l->current);
                if (r >= 0)
                        return true;
                log_warning("%s: cannot convert the staged %s output %s: %s", l->id, b->name, name,
                            strerror(-r));
        }
        return stale_remove(l);
}

int leftovers_convert_start(sd_event *e, int staging_fd, const char *id, LeftoversDoneFunc done,
                            void *userdata, Leftovers **ret)
{
        Leftovers *l = calloc(1, sizeof(*l));

        if (!l)
                return 0;
        l->event = e;
        l->staging_fd = staging_fd;
        l->done = done;
        l->userdata = userdata;
        snprintf(l->id, sizeof(l->id), "%s", id);
        if (leftovers_list(l) == 0) {
                free(l);
                return 0;
        }
        /* The first child now: done() comes from the loop, never from in here. */
        if (!leftovers_next(l)) {
                free(l);
                return 0;
        }
        *ret = l;
        return (int) (l->n + l->n_stale);
}

Leftovers *leftovers_free(Leftovers *l)
{
        if (!l)
                return NULL;
        convert_child_free(l->current);
        child_free(l->remove);
        free(l);
        return NULL;
}
