/* SPDX-License-Identifier: MIT */
/*
 * The Austin backend (https://github.com/P403n1x87/austin): a CPython frame
 * stack sampler in C that reads the target's memory without stopping it.
 *
 * `austin -P -i US -p PID -o FILE` writes one text line per sample per
 * thread as it goes, through stdio (so a SIGKILL leaves the file cut inside
 * a line), and on SIGINT or SIGTERM finishes it with a "# duration:"
 * trailer. What it does at each end, from its source (src/austin.c,
 * src/error.h) and measured with 3.7.0:
 *
 *   SIGINT / SIGTERM      complete file, exit 254 / 241 (-SIGINT, -SIGTERM)
 *   the target exits      complete file, exit 0
 *   a read that fails     the same: complete file, exit 0, though the target
 *                         still runs (a thread ending while it is read:
 *                         py_thread__next fails, and handle_error takes
 *                         EMEMCOPY for a normal end). Measured against a
 *                         process that starts a 5 ms thread every few ms:
 *                         runs of 0.05 to 7 s. The daemon asks the target's
 *                         pidfd and restarts it (session-profiler.c).
 *   no such pid           exit 36 (EPROCATTACH), an empty file
 *   not Python, or no     exit 32 (EPROC), "not a Python process": Austin
 *   right to read it      says the same when ptrace is refused
 *   SIGKILL               the file cut inside a line, no trailer
 *
 * So a run is judged by its trailer first, its exit status second, and a
 * cut file is kept up to its last whole line and called partial.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "austin-convert.h"
#include "cleanup.h"
#include "profiler.h"

/* Austin's exit statuses (src/error.h). */
#define AUSTIN_EPROC 32
#define AUSTIN_EPROCFORK 33
#define AUSTIN_EPROCISTIMEOUT 35
#define AUSTIN_EPROCATTACH 36
#define AUSTIN_EPROCPERM 37
#define AUSTIN_EPROCNPID 38
#define AUSTIN_ENOVERSION 3
#define AUSTIN_EXIT_SIGINT (256 - SIGINT)
#define AUSTIN_EXIT_SIGTERM (256 - SIGTERM)

static const char *austin_check_options(const ProfilerRequest *q)
{
        if (q->native)
                return "Austin reads Python frames only; --native needs --profiler py-spy";
        if (q->gil)
                return "Austin cannot tell which thread holds the GIL; --gil needs --profiler py-spy";
        return NULL; /* --nonblocking: Austin never stops PAM anyway */
}

static int austin_argv(const char *path, const ProfilerRequest *q, char ***ret)
{
        char **v = NULL;
        size_t n = 0;
        int r = 0;

        r |= strv_push(&v, &n, "%s", path);
        r |= strv_push(&v, &n, "-P"); /* no banner: its stderr is for errors only */
        r |= strv_push(&v, &n, "-i");
        r |= strv_push(&v, &n, "%u", q->rate ? 1000000u / q->rate : 10000u);
        /* The time it gives itself to find the interpreter's state: 100 ms by default, short on a Pi. */
        r |= strv_push(&v, &n, "-t");
        r |= strv_push(&v, &n, "1000");
        if (!q->idle)
                r |= strv_push(&v, &n, "-s");
        if (q->subprocesses)
                r |= strv_push(&v, &n, "-C");
        r |= strv_push(&v, &n, "-p");
        r |= strv_push(&v, &n, "%d", (int) q->pid);
        r |= strv_push(&v, &n, "-o");
        r |= strv_push(&v, &n, "%s", q->output);
        if (r < 0) {
                strv_free(v);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}

typedef struct AustinFile {
        size_t size;
        bool header;  /* "# austin:" first */
        bool sample;  /* at least one whole sample line */
        bool trailer; /* "# duration:" after the samples: Austin finished it */
} AustinFile;

/* Looks at the head (header, first whole sample) and the tail (trailer) only. */
static void inspect(int fd, AustinFile *ret)
{
        char head[64 * 1024], tail[512];
        struct stat st;
        ssize_t n, m;
        off_t off;

        *ret = (AustinFile){ 0 };
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
                return;
        ret->size = (size_t) st.st_size;
        n = pread(fd, head, sizeof(head) - 1, 0);
        if (n <= 0)
                return;
        head[n] = '\0';
        ret->header = strncmp(head, "# austin: ", 10) == 0;
        for (char *p = head; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (*p == 'P') {
                        /* a whole line; a first line longer than the head counts if the file goes on */
                        ret->sample = strchr(p, '\n') || (size_t) n < ret->size;
                        break;
                }
        off = st.st_size > (off_t) sizeof(tail) - 1 ? st.st_size - (off_t) sizeof(tail) + 1 : 0;
        m = pread(fd, tail, sizeof(tail) - 1, off);
        if (m <= 0)
                return;
        tail[m] = '\0';
        ret->trailer = strstr(tail, "\n# duration: ") != NULL && tail[m - 1] == '\n';
}

/* Why Austin left nothing, from its exit status. */
static void explain_exit(const ProfilerExit *e, char *buf, size_t size)
{
        int pid = (int) e->target;

        if (e->signal)
                snprintf(buf, size, "Austin was killed by signal %d before it wrote a sample%s", e->signal,
                         e->killed ? " (it did not stop on SIGINT)" : "");
        else if (e->code == AUSTIN_EPROC)
                snprintf(buf, size,
                         "Austin could not read pid %d as a Python process (exit 32, \"not a Python "
                         "process\"). It says that also when it may not read the process's memory: "
                         "either pid %d is not Python, or it is a permission problem (Austin needs "
                         "CAP_SYS_PTRACE or PAM's user, and kernel.yama.ptrace_scope must allow it)",
                         pid, pid);
        else if (e->code == AUSTIN_EPROCATTACH || e->code == AUSTIN_EPROCNPID)
                snprintf(buf, size, "pid %d is not running: Austin could not attach to it (exit %d)", pid,
                         e->code);
        else if (e->code == AUSTIN_EPROCPERM)
                snprintf(buf, size,
                         "Austin may not read pid %d (exit 37, permission denied): it needs "
                         "CAP_SYS_PTRACE or PAM's user",
                         pid);
        else if (e->code == AUSTIN_EPROCISTIMEOUT)
                snprintf(buf, size,
                         "Austin timed out finding the Python interpreter in pid %d (exit 35): PAM may "
                         "still be starting",
                         pid);
        else if (e->code == AUSTIN_ENOVERSION)
                snprintf(buf, size, "Austin could not tell which Python pid %d runs (exit 3)", pid);
        else if (e->code == 0 && e->target_alive)
                snprintf(
                        buf, size,
                        "Austin ended by itself (exit 0) before it took a sample, while pid %d was still running",
                        pid);
        else if (e->code == 0)
                snprintf(buf, size, "pid %d exited before Austin took a sample", pid);
        else
                snprintf(buf, size, "Austin exited with status %d: %s", e->code, e->last_line);
}

static void austin_judge(int fd, const ProfilerExit *e, ProfileJudgement *ret)
{
        AustinFile f;

        inspect(fd, &f);
        *ret = (ProfileJudgement){ .verdict = PROFILE_FAILED, .size = f.size };
        if (f.trailer) {
                /* Finished: by our SIGINT (254), SIGTERM (241), the target's exit (0) or anything else. */
                ret->verdict = PROFILE_OK;
                if (e->code == 0 && e->target_alive)
                        /* Austin 3.7 takes a failed read of the target's memory (a thread that ended
                         * while it was read) for the target's end: it stops, exit 0, file finished. */
                        snprintf(ret->reason, sizeof(ret->reason),
                                 "Austin ended by itself (exit 0, a complete file) while pid %d was still "
                                 "running",
                                 (int) e->target);
                else if (e->code == 0)
                        snprintf(ret->reason, sizeof(ret->reason),
                                 "pid %d exited and Austin finished its file", (int) e->target);
                else if ((e->code == AUSTIN_EXIT_SIGINT || e->code == AUSTIN_EXIT_SIGTERM) && !e->stop_sent)
                        snprintf(ret->reason, sizeof(ret->reason),
                                 "a %s from outside pamprofd ended it, with a complete file",
                                 e->code == AUSTIN_EXIT_SIGINT ? "SIGINT" : "SIGTERM");
                else if (e->code != AUSTIN_EXIT_SIGINT && e->code != AUSTIN_EXIT_SIGTERM)
                        snprintf(ret->reason, sizeof(ret->reason), "exit %d, but a complete file", e->code);
                return;
        }
        if (f.header && f.sample) {
                char why[200];

                ret->verdict = PROFILE_PARTIAL;
                if (e->killed)
                        snprintf(why, sizeof(why),
                                 "Austin did not finish its file within %gs of SIGINT and was killed",
                                 e->grace);
                else if (e->signal)
                        snprintf(why, sizeof(why), "Austin was killed by signal %d (not by pamprofd)",
                                 e->signal);
                else
                        snprintf(why, sizeof(why),
                                 "Austin exited with status %d without finishing its file (%s)", e->code,
                                 e->last_line);
                snprintf(ret->reason, sizeof(ret->reason),
                         "%s; its file is cut short (%zu bytes) and is used up to its last whole line", why,
                         f.size);
                return;
        }
        if (e->killed)
                ret->verdict = PROFILE_LOST;
        /* What it says of the target itself will be said again: starting it over helps nothing. */
        ret->final = !e->signal &&
                (e->code == AUSTIN_EPROC || e->code == AUSTIN_EPROCPERM || e->code == AUSTIN_EPROCATTACH ||
                 e->code == AUSTIN_EPROCNPID || e->code == AUSTIN_ENOVERSION);
        ret->no_target = !e->signal &&
                (e->code == AUSTIN_EPROCATTACH || e->code == AUSTIN_EPROCNPID || e->code == AUSTIN_EPROC ||
                 (e->code == 0 && !e->target_alive));
        explain_exit(e, ret->reason, sizeof(ret->reason));
        if (f.size > 0 && !f.header) {
                size_t n = strlen(ret->reason);
                snprintf(ret->reason + n, sizeof(ret->reason) - n,
                         "; its file (%zu bytes) is not Austin's text output", f.size);
        }
}

static int austin_convert_run(const ProfileConvertInput *in, ProfileConvertResult *ret)
{
        AustinNames names = { 0 };
        AustinConvertFacts facts;
        _cleanup_free_ char *text = NULL;
        char exporter[96];
        int r;

        if (in->names_fd >= 0) {
                struct stat st;
                /* a name a second for each thread: small, but bounded all the same */
                if (fstat(in->names_fd, &st) == 0 && st.st_size > 0 && st.st_size < 64 * 1024 * 1024 &&
                    (text = malloc((size_t) st.st_size))) {
                        ssize_t k = pread(in->names_fd, text, (size_t) st.st_size, 0);
                        if (k > 0)
                                (void) austin_names_parse(&names, text, (size_t) k);
                }
        }
        if (in->version)
                snprintf(exporter, sizeof(exporter), "pamprofd from %s", in->version);
        if (lseek(in->raw_fd, 0, SEEK_SET) < 0) {
                austin_names_done(&names);
                return -errno;
        }
        r = austin_convert(in->raw_fd, in->out_fd,
                           &(AustinConvertOptions){
                                   .names = &names,
                                   .process_prefix = in->subprocesses,
                                   .spool_fd = in->spool_fd,
                                   .exporter = in->version ? exporter : NULL,
                           },
                           &facts);
        austin_names_done(&names);
        *ret = (ProfileConvertResult){
                .r = r,
                .bytes = facts.bytes,
                .bytes_used = facts.bytes_used,
                .samples = facts.samples,
                .bad_lines = facts.bad_lines,
                .garbage_samples = facts.garbage_samples,
                .profiles = facts.profiles,
                .frames = facts.frames,
                .cut = facts.cut,
        };
        snprintf(ret->message, sizeof(ret->message), "%s", facts.message);
        return r;
}

const ProfilerBackend austin_backend = {
        .name = "austin",
        .display = "Austin",
        .binary = "austin",
        .install_hint = "Install it (Debian 13: apt install austin; elsewhere build 3.7.0 from source, "
                        "as tests/tools/build-austin.sh does) or set austin_path in "
                        "/etc/pamprofd/pamprofd.conf",
        .path_key = "austin_path",
        .stop_signal = SIGINT,
        .grace = 5 * USEC_PER_SEC, /* it only flushes stdio and writes the trailer */
        .output_suffix = "austin",
        .thread_names = true,
        .check_options = austin_check_options,
        .build_argv = austin_argv,
        .judge = austin_judge,
        .convert = austin_convert_run,
};
