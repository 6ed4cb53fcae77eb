/* SPDX-License-Identifier: MIT */
#include "austin-convert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json-write.h"
#include "alloc-util.h"
#include "cleanup.h"
#include "sort-util.h"
#include "spool.h"
#include "strtab.h"

#define BLOCK_DEFAULT (256 * 1024)
#define LINE_MAX_BYTES (64 * 1024 * 1024) /* a longer line is skipped as bad */
#define SPILL (16 * 1024)                 /* a profile's buffer goes to the scratch file beyond this */
#define DEPTH_MAX 4096
#define SCHEMA "https://www.speedscope.app/file-format-schema.json"

typedef struct Frame {
        AustinFrame f; /* pointing into its text "file:scope:line", interned in Conv.texts */
} Frame;

typedef struct Profile {
        long pid, iid, tid;
        SpoolArray samples, weights; /* JSON text, spilled into Conv.spool */
        uint64_t n, total_us;
        uint64_t tick;   /* the clock's tick of its last sample */
        uint64_t end_us; /* its timeline so far, on the session's clock: every weight, gaps too */
} Profile;

/*
 * A process's clock. Austin samples all of a process's threads at once and
 * gives each the same metric, the time since the previous sampling of that
 * process (src/py_proc.c: py_proc__sample), in time order. So a "tick" is the
 * run of lines with one metric in which no thread comes twice; it covers
 * [start_us, end_us) on the process's clock, which starts where the clock of
 * the session (the latest tick of any process) was when the process was
 * first seen. A thread is placed there: the time before its first sample (a
 * thread born mid-session) and between two of its samples (a tick it missed:
 * idle in cpu mode, a failed read) is an empty sample of that weight, which
 * speedscope draws as nothing in its Time Order view.
 */
typedef struct Clock {
        long pid;
        uint64_t tick, delta_us, start_us, end_us;
} Clock;

typedef struct Conv {
        const AustinConvertOptions *o;
        AustinConvertFacts *facts;
        StrTab texts; /* the frames' text: index i is frames[i]'s */
        Frame *frames;
        size_t n_frames, cap_frames;
        Profile *profiles;
        size_t n_profiles, cap_profiles;
        StrTab threads; /* (pid, iid, tid) as bytes: index i is profiles[i]'s */
        size_t last_profile;
        Clock *clocks;
        size_t n_clocks, cap_clocks;
        uint64_t now_us; /* the latest tick's start, over every process */
        uint32_t *stack;
        Spool spool;
        int error;
} Conv;

/* The index of the frame with this text, added when new. */
static long frame_index(Conv *c, const char *raw, size_t len)
{
        const char *text;
        bool fresh;
        Frame *f;
        long i;

        /* Room first: the table and the frames stay one to one whatever fails. */
        if (GREEDY_GROW(c->frames, c->cap_frames, c->n_frames + 1, 16) < 0)
                return -ENOMEM;
        i = strtab_intern(&c->texts, raw, len, &fresh);
        if (i < 0 || !fresh)
                return i < 0 ? -ENOMEM : i;
        text = strtab_get(&c->texts, (size_t) i);
        f = &c->frames[c->n_frames];
        if (austin_parse_frame(text, len, &f->f) < 0)
                /* not file:scope:line: the whole text is its name */
                f->f = (AustinFrame){ .file = text, .scope = text, .scope_len = len, .line = -1 };
        return (long) c->n_frames++;
}

static Profile *profile_get(Conv *c, long pid, long iid, long tid)
{
        const long key[3] = { pid, iid, tid };
        Profile *p;
        bool fresh;
        long i;

        if (c->last_profile < c->n_profiles) {
                p = &c->profiles[c->last_profile];
                if (p->tid == tid && p->pid == pid && p->iid == iid)
                        return p;
        }
        /* Room first: the table and the profiles stay one to one whatever fails. */
        if (GREEDY_GROW(c->profiles, c->cap_profiles, c->n_profiles + 1, 16) < 0)
                return NULL;
        i = strtab_intern(&c->threads, key, sizeof(key), &fresh);
        if (i < 0)
                return NULL;
        if (fresh)
                c->profiles[c->n_profiles++] = (Profile){ .pid = pid, .iid = iid, .tid = tid };
        c->last_profile = (size_t) i;
        return &c->profiles[i];
}

/* The clock of pid, added when new; NULL when out of memory. */
static Clock *clock_get(Conv *c, long pid)
{
        for (size_t i = c->n_clocks; i > 0; i--)
                if (c->clocks[i - 1].pid == pid)
                        return &c->clocks[i - 1];
        if (GREEDY_GROW(c->clocks, c->cap_clocks, c->n_clocks + 1, 16) < 0)
                return NULL;
        c->clocks[c->n_clocks] = (Clock){ .pid = pid, .start_us = c->now_us, .end_us = c->now_us };
        return &c->clocks[c->n_clocks++];
}

/* The sample's tick on its process's clock: a new one when the metric changes or the thread comes again. */
static void clock_tick(Conv *c, Clock *k, const Profile *pr, uint64_t delta_us)
{
        if (k->tick == 0 || delta_us != k->delta_us || (pr && pr->tick == k->tick)) {
                k->tick++;
                k->delta_us = delta_us;
                k->start_us = k->end_us;
                k->end_us += delta_us;
                if (k->start_us > c->now_us)
                        c->now_us = k->start_us;
        }
}

/* Time the thread was not seen, up to its tick's start: an empty sample of that weight. */
static int add_gap(Conv *c, Profile *pr, uint64_t gap_us)
{
        char *o = spool_room(&pr->samples, 4);

        if (!o)
                return -ENOMEM;
        if (pr->samples.any)
                *o++ = ',';
        *o++ = '[';
        *o++ = ']';
        pr->samples.len = (size_t) (o - pr->samples.buf);
        pr->samples.any = true;
        pr->total_us += gap_us;
        c->facts->gaps++;
        return spool_add_seconds(&pr->weights, gap_us);
}

/* Linux never gives a thread an id above PID_MAX_LIMIT (2^22): a larger one is a failed read. */
#define TID_MAX 4194304L

static int add_sample(Conv *c, const AustinSample *s)
{
        const char *p = s->frames, *end = s->frames + s->frames_len, *ft;
        size_t depth = 0, flen;
        Profile *pr;
        Clock *k;
        char *o;
        int r;

        k = clock_get(c, s->pid);
        if (!k)
                return -ENOMEM;
        if (s->tid <= 0 || s->tid > TID_MAX || s->pid <= 0 || s->pid > TID_MAX) {
                /* Not a thread: Austin read garbage where the id should be. Its time is in the tick. */
                clock_tick(c, k, NULL, s->time_us);
                c->facts->garbage_samples++;
                return 0;
        }

        while (austin_next_frame(&p, end, &ft, &flen)) {
                long idx = frame_index(c, ft, flen);
                if (idx < 0)
                        return (int) idx;
                if (depth < DEPTH_MAX)
                        c->stack[depth++] = (uint32_t) idx;
        }
        pr = profile_get(c, s->pid, s->iid, s->tid);
        if (!pr)
                return -ENOMEM;
        clock_tick(c, k, pr, s->time_us);
        if (k->start_us > pr->end_us && (r = add_gap(c, pr, k->start_us - pr->end_us)) < 0)
                return r;
        pr->tick = k->tick;
        pr->end_us = k->end_us;
        /* "[1,2,3]" with a comma before it: at most 11 bytes an index, 3 more */
        o = spool_room(&pr->samples, depth * 11 + 3);
        if (!o)
                return -ENOMEM;
        if (pr->samples.any)
                *o++ = ',';
        *o++ = '[';
        for (size_t i = 0; i < depth; i++) {
                if (i)
                        *o++ = ',';
                o += spool_put_uint(o, c->stack[i]);
        }
        *o++ = ']';
        pr->samples.len = (size_t) (o - pr->samples.buf);
        pr->samples.any = true;
        if ((r = spool_add_seconds(&pr->weights, s->time_us)) < 0)
                return r;
        pr->n++;
        pr->total_us += s->time_us;
        c->facts->samples++;
        if (pr->samples.len >= SPILL && (r = spool_spill(&c->spool, &pr->samples)) < 0)
                return r;
        if (pr->weights.len >= SPILL && (r = spool_spill(&c->spool, &pr->weights)) < 0)
                return r;
        return 0;
}

static int fail(Conv *c, int r, const char *why)
{
        snprintf(c->facts->message, sizeof(c->facts->message), "%s", why);
        return r;
}

static int take_line(Conv *c, const char *line, size_t len)
{
        AustinConvertFacts *f = c->facts;
        AustinSample s;
        int k;

        f->lines++;
        k = austin_parse_line(line, len, &f->meta, &s);
        if (k == AUSTIN_LINE_META && f->meta.mode == AUSTIN_MODE_MEMORY)
                return fail(c, -ENOTSUP,
                            "the file is from Austin's memory mode (-m): its metric is "
                            "bytes, not time");
        if (k == AUSTIN_LINE_SAMPLE)
                return add_sample(c, &s);
        if (k < 0) {
                if (f->bad_lines++ == 0)
                        f->first_bad_line = f->lines;
        }
        return 0;
}

/* Whole lines of in_fd, the last one without its newline left out. */
static int read_lines(Conv *c, int fd)
{
        size_t cap = c->o->block_size ? c->o->block_size : BLOCK_DEFAULT, len = 0, skip_to_nl = 0;
        _cleanup_free_ char *buf = malloc(cap < 4 ? 4 : cap);
        bool skipping = false, magic_checked = false;
        int r;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                size_t pos = 0;
                char *nl;

                if (len == cap) {
                        /* one line fills the buffer: grow it, or skip that line */
                        if (cap * 2 <= LINE_MAX_BYTES) {
                                char *nb = realloc(buf, cap * 2);
                                if (!nb)
                                        return -ENOMEM;
                                buf = nb;
                                cap *= 2;
                        } else {
                                skipping = true;
                                skip_to_nl += len;
                                len = 0;
                        }
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                c->facts->bytes += (uint64_t) n;
                len += (size_t) n;
                if (!magic_checked && (len >= 3 || memchr(buf, '\n', len))) {
                        /* the binary format has no newline to wait for */
                        magic_checked = true;
                        if (len >= 3 && memcmp(buf, "MOJ", 3) == 0)
                                return fail(c, -EMEDIUMTYPE,
                                            "the file is in Austin's binary MOJO format (-b); run Austin "
                                            "without -b for its text format");
                }
                while ((nl = memchr(buf + pos, '\n', len - pos))) {
                        size_t l = (size_t) (nl - (buf + pos));
                        if (skipping) {
                                skipping = false;
                                c->facts->lines++;
                                if (c->facts->bad_lines++ == 0)
                                        c->facts->first_bad_line = c->facts->lines;
                        } else if ((r = take_line(c, buf + pos, l)) < 0)
                                return r;
                        c->facts->bytes_used += skip_to_nl + l + 1;
                        skip_to_nl = 0;
                        pos += l + 1;
                }
                memmove(buf, buf + pos, len - pos);
                len -= pos;
        }
        c->facts->cut = len > 0 || skipping;
        return 0;
}

static int by_thread(const void *a, const void *b)
{
        const Profile *x = a, *y = b;

        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        if (x->iid != y->iid)
                return x->iid < y->iid ? -1 : 1;
        return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static void write_frame(FILE *out, const Frame *f)
{
        const AustinFrame *a = &f->f;

        fputs("{\"name\":", out);
        if (a->file_len == 0 && a->scope_len == 7 && memcmp(a->scope, "INVALID", 7) == 0)
                fputs("\"<invalid frame>\"", out);
        else if (a->file_len == 0 && a->scope_len == 2 && memcmp(a->scope, "GC", 2) == 0)
                fputs("\"<garbage collection>\"", out);
        else
                json_write_string(out, a->scope, a->scope_len);
        fputs(",\"file\":", out);
        json_write_string(out, a->file, a->file_len);
        /* speedscope's schema wants numbers or nothing (py-spy writes nulls; the app takes both). */
        if (a->line >= 0)
                fprintf(out, ",\"line\":%ld", a->line);
        fputc('}', out);
}

static int write_document(Conv *c, FILE *out)
{
        AustinConvertFacts *f = c->facts;
        char label[256], num[32];
        int r = 0;

        /* Sorted by pid and tid: the main thread first, as the threads are in /proc. */
        if (c->n_profiles > 1) /* qsort_safe(NULL, 0, ...) is undefined */
                qsort_safe(c->profiles, c->n_profiles, sizeof(Profile), by_thread);
        fputs("{\"$schema\":\"" SCHEMA "\",\"profiles\":[", out);
        for (size_t i = 0; i < c->n_profiles && r >= 0; i++) {
                const Profile *p = &c->profiles[i];

                austin_thread_label(c->o->names, p->pid, p->iid, p->tid, c->o->process_prefix, label,
                                    sizeof(label));
                fprintf(out, "%s{\"type\":\"sampled\",\"name\":", i ? "," : "");
                json_write_string(out, label, strlen(label));
                num[spool_put_seconds(num, p->total_us)] = '\0';
                fprintf(out, ",\"unit\":\"seconds\",\"startValue\":0,\"endValue\":%s,\"samples\":[", num);
                r = spool_copy(&c->spool, &p->samples, out);
                fputs("],\"weights\":[", out);
                if (r >= 0)
                        r = spool_copy(&c->spool, &p->weights, out);
                fputs("]}", out);
                if ((double) p->total_us / 1e6 > f->seconds)
                        f->seconds = (double) p->total_us / 1e6;
        }
        fputs("],\"shared\":{\"frames\":[", out);
        for (size_t i = 0; i < c->n_frames; i++) {
                if (i)
                        fputc(',', out);
                write_frame(out, &c->frames[i]);
        }
        fputs("]},", out);
        if (c->n_profiles > 0)
                fputs("\"activeProfileIndex\":0,", out);
        fputs("\"exporter\":", out);
        if (c->o->exporter)
                json_write_string(out, c->o->exporter, strlen(c->o->exporter));
        else {
                snprintf(label, sizeof(label), "pamprofd from austin %s",
                         f->meta.version[0] ? f->meta.version : "(no version line)");
                json_write_string(out, label, strlen(label));
        }
        fputs(",\"name\":\"austin profile\"}\n", out);
        f->profiles = c->n_profiles;
        f->frames = c->n_frames;
        return r;
}

static void conv_done(Conv *c)
{
        strtab_done(&c->texts);
        for (size_t i = 0; i < c->n_profiles; i++) {
                spool_array_done(&c->profiles[i].samples);
                spool_array_done(&c->profiles[i].weights);
        }
        free(c->frames);
        free(c->profiles);
        strtab_done(&c->threads);
        free(c->clocks);
        free(c->stack);
}

static int convert_to(Conv *c, int in_fd, FILE *out)
{
        AustinConvertFacts *f = c->facts;
        int r = read_lines(c, in_fd);

        if (r < 0)
                return r;
        if (f->samples == 0 && f->meta.version[0] == '\0' && f->lines > 0 && f->bad_lines == f->lines)
                return fail(c, -EBADMSG,
                            "the file is not Austin's text output (no \"# austin:\" header "
                            "and no sample line)");
        return write_document(c, out);
}

int austin_convert(int in_fd, int out_fd, const AustinConvertOptions *o, AustinConvertFacts *ret)
{
        AustinConvertFacts facts = { 0 };
        Conv c = { .o = o, .facts = &facts, .spool = { .fd = o->spool_fd } };
        FILE *spool = NULL, *out = NULL;
        int dup_fd, r;

        c.stack = malloc(DEPTH_MAX * sizeof(uint32_t));
        if (!c.stack) {
                r = -ENOMEM;
                goto finish;
        }
        if (c.spool.fd < 0) {
                spool = tmpfile();
                if (!spool) {
                        r = -errno;
                        goto finish;
                }
                c.spool.fd = fileno(spool);
        }
        dup_fd = dup(out_fd);
        if (dup_fd < 0 || !(out = fdopen(dup_fd, "we"))) {
                r = -errno;
                if (dup_fd >= 0)
                        close(dup_fd);
                goto finish;
        }
        setvbuf(out, NULL, _IOFBF, 256 * 1024);
        r = convert_to(&c, in_fd, out);
        if (fflush(out) != 0 && r >= 0)
                r = -errno;
        if (fclose(out) != 0 && r >= 0)
                r = -EIO;
finish:
        if (r == -ENOMEM && !facts.message[0])
                snprintf(facts.message, sizeof(facts.message), "out of memory");
        else if (r < 0 && !facts.message[0])
                snprintf(facts.message, sizeof(facts.message), "%s", strerror(-r));
        if (spool)
                fclose(spool);
        conv_done(&c);
        if (ret)
                *ret = facts;
        return r;
}
