/* SPDX-License-Identifier: MIT */
#include "folded.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* " 18446744073709551615\n" */
#define COUNT_MAX 22
/* "[4294967295 frames cut]" and its ';' */
#define MARKER_MAX 32

typedef struct Folder {
        const SsModel *m;
        char **frames;      /* each frame's text, made when first met */
        char **threads;     /* each thread's root frame */
        uint32_t *path;     /* the current stack's nodes, root first */
        const char **texts; /* and their frames' texts */
        size_t path_cap;
} Folder;

/* s (n bytes) into out, cleaned: ';' would start a frame, a newline a line. At most max bytes, not
 * inside a UTF-8 sequence; "?" for nothing. out has max + 1 bytes. */
static void clean(const char *s, size_t n, char *out, size_t max)
{
        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                        n--;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                out[i] = c == ';' ? ':' : c < 0x20 || c == 0x7f ? '?' : (char) c;
        }
        if (n == 0)
                out[n++] = '?';
        out[n] = '\0';
}

static char *clean_new(const char *s, size_t n)
{
        char *out = malloc(FOLDED_FRAME_MAX + 1);

        if (out)
                clean(s, n, out, FOLDED_FRAME_MAX);
        return out;
}

/* "name (file:line)", "name (file)" or "name", as py-spy folds them. */
static const char *frame_text(Folder *fo, uint32_t frame)
{
        const SsFrame *f = &fo->m->frames[frame];
        _cleanup_free_ char *raw = NULL;
        int k;

        if (fo->frames[frame])
                return fo->frames[frame];
        if (f->file && f->file[0] && f->line > 0)
                k = asprintf(&raw, "%s (%s:%d)", f->name, f->file, f->line);
        else if (f->file && f->file[0])
                k = asprintf(&raw, "%s (%s)", f->name, f->file);
        else
                k = asprintf(&raw, "%s", f->name ? f->name : "");
        if (k < 0)
                return NULL;
        return fo->frames[frame] = clean_new(raw, (size_t) k);
}

static const char *thread_text(Folder *fo, uint32_t thread)
{
        const SsThread *t = &fo->m->threads[thread];
        const char *name = t->name ? t->name : t->profile_name ? t->profile_name : "";

        if (!fo->threads[thread])
                fo->threads[thread] = clean_new(name, strlen(name));
        return fo->threads[thread];
}

static int put(FILE *f, const char *s, size_t n, FoldedStats *st)
{
        if (n > 0 && fwrite(s, 1, n, f) != n)
                return -EIO;
        st->bytes += n;
        return 0;
}

/* One stack's line: the nodes of its path are fo->path[0 .. depth). */
static int write_line(Folder *fo, const char *root, uint32_t depth, uint64_t count, FILE *f, FoldedStats *st)
{
        const char **texts = fo->texts;
        char suffix[COUNT_MAX + 1], marker[MARKER_MAX + 1];
        size_t len = strlen(root), first = 0;
        int k = snprintf(suffix, sizeof(suffix), " %" PRIu64 "\n", count), r;

        for (uint32_t i = 0; i < depth; i++) {
                texts[i] = frame_text(fo, fo->m->nodes[fo->path[i]].frame);
                if (!texts[i])
                        return -ENOMEM;
                len += 1 + strlen(texts[i]);
        }
        marker[0] = '\0';
        if (len + (size_t) k > FOLDED_LINE_MAX) {
                /* Keep the leaf side: what the samples were doing. */
                size_t budget = FOLDED_LINE_MAX - strlen(root) - (size_t) k - MARKER_MAX;
                first = depth;
                while (first > 0 && strlen(texts[first - 1]) + 1 <= budget)
                        budget -= strlen(texts[--first]) + 1;
                snprintf(marker, sizeof(marker), ";[%zu frames cut]", first);
                st->cut_stacks++;
                st->cut_frames += first;
        }
        r = put(f, root, strlen(root), st);
        if (r >= 0)
                r = put(f, marker, strlen(marker), st);
        for (size_t i = first; r >= 0 && i < depth; i++) {
                r = put(f, ";", 1, st);
                if (r >= 0)
                        r = put(f, texts[i], strlen(texts[i]), st);
        }
        if (r >= 0)
                r = put(f, suffix, (size_t) k, st);
        return r;
}

/* fo->path from node's root-side first frame to node; its depth. */
static int path_of(Folder *fo, uint32_t node, uint32_t *ret_depth)
{
        const SsNode *nodes = fo->m->nodes;
        uint32_t depth = nodes[node].depth;

        if (depth > fo->path_cap) {
                uint32_t *p = reallocarray(fo->path, depth, sizeof(*p));
                const char **t = p ? reallocarray(fo->texts, depth, sizeof(*t)) : NULL;
                if (p)
                        fo->path = p;
                if (!t)
                        return -ENOMEM;
                fo->texts = t;
                fo->path_cap = depth;
        }
        for (uint32_t i = depth, at = node; i > 0; i--) {
                if (at == SS_NONE || nodes[at].frame == SS_NONE)
                        return -EINVAL; /* a model whose depths disagree with its parents */
                fo->path[i - 1] = at;
                at = nodes[at].parent;
        }
        *ret_depth = depth;
        return 0;
}

static void folder_done(Folder *fo)
{
        for (size_t i = 0; fo->frames && i < fo->m->n_frames; i++)
                free(fo->frames[i]);
        for (size_t i = 0; fo->threads && i < fo->m->n_threads; i++)
                free(fo->threads[i]);
        free(fo->frames);
        free(fo->threads);
        free(fo->path);
        free(fo->texts);
}

int folded_write(const SsModel *m, FoldedSkipFunc skip, void *userdata, FILE *f, FoldedStats *ret_stats)
{
        Folder fo = { .m = m };
        FoldedStats st = { 0 };
        int r = 0;

        fo.frames = calloc(m->n_frames + 1, sizeof(char *));
        fo.threads = calloc(m->n_threads + 1, sizeof(char *));
        if (!fo.frames || !fo.threads)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < m->n_nodes; i++) {
                const SsNode *n = &m->nodes[i];
                const char *root;
                uint32_t depth;

                if (n->self_n == 0 || n->thread >= m->n_threads)
                        continue;
                if (skip && skip(m, (uint32_t) i, userdata)) {
                        st.skipped += n->self_n;
                        st.skipped_stacks++;
                        continue;
                }
                root = thread_text(&fo, n->thread);
                r = root ? path_of(&fo, (uint32_t) i, &depth) : -ENOMEM;
                if (r >= 0)
                        r = write_line(&fo, root, depth, n->self_n, f, &st);
                if (r >= 0) {
                        st.lines++;
                        st.samples += n->self_n;
                }
        }
        folder_done(&fo);
        if (r >= 0 && fflush(f) != 0)
                r = -EIO;
        if (r >= 0 && ret_stats)
                *ret_stats = st;
        return r;
}
