/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The child keeps only the capabilities in keep, whichever way it would get
 * others: as root, through the bounding set (exec gives root every
 * capability in it); as the unit's unprivileged user, through the ambient
 * set (which exec passes on whole): cleared, then the kept ones raised
 * again, which needs them inheritable. Plain syscalls: no allocation here.
 */
static void keep_only_caps(uint64_t keep)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { 0 };

        if (geteuid() == 0)
                for (unsigned long cap = 0; cap <= CAP_LAST_CAP; cap++)
                        if (!(keep & (UINT64_C(1) << cap)))
                                (void) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (syscall(SYS_capget, &h, d) < 0)
                return;
        d[0].inheritable = d[0].permitted & (uint32_t) keep;
        d[1].inheritable = d[1].permitted & (uint32_t) (keep >> 32);
        if (syscall(SYS_capset, &h, d) < 0)
                return;
        for (unsigned long cap = 0; cap <= CAP_LAST_CAP; cap++)
                if ((keep & (UINT64_C(1) << cap)) && (d[cap / 32].permitted & (1U << (cap % 32))))
                        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
}

/* Only async-signal-safe calls between fork() and exec(). */
static _Noreturn void child(const SpawnOptions *o, pid_t parent, int devnull)
{
        sigset_t none;
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        int out = o->output_fd >= 0 ? o->output_fd : devnull;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        if (o->death_signal > 0) {
                (void) prctl(PR_SET_PDEATHSIG, o->death_signal);
                if (getppid() != parent) /* the daemon died before the line above */
                        _exit(127);
        }
        (void) setsid(); /* no terminal's Ctrl+C reaches it behind our back */

        if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
                _exit(127);
        (void) syscall(SYS_close_range, 3U, ~0U, 0U);

        keep_only_caps(o->keep_caps);

        execv(o->argv[0], o->argv);
        dprintf(STDERR_FILENO, "cannot execute %s: %s\n", o->argv[0], strerror(errno));
        _exit(127);
}

int spawn_child(const SpawnOptions *o, pid_t *ret_pid)
{
        pid_t parent = getpid(), pid;
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (devnull < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(devnull);
                return r;
        }
        if (pid == 0)
                child(o, parent, devnull);
        close(devnull);
        *ret_pid = pid;
        return 0;
}
