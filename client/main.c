/* SPDX-License-Identifier: MIT */
/* pamprofctl: the client of pamprofd. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "verbs.h"

static void help(FILE *f)
{
        fprintf(f,
                "Usage: pamprofctl [--socket PATH] [--json] COMMAND [OPTIONS]\n\n"
                "Control pamprofd, the profiling daemon for PAM (the Petal App Manager).\n\nCommands:\n");
        verbs_help(f);
        fprintf(f,
                "\nEvery command takes --help, --json (the daemon's replies as JSON) and --socket PATH\n"
                "(default " PAMPROF_SOCKET_PATH ").\n"
                "Exit codes: 0 ok, 1 refused or failed, 2 usage error, 3 daemon unreachable.\n"
                "See pamprofctl(1).\n");
}

int main(int argc, char *argv[])
{
        Ctl ctl = { .socket = PAMPROF_SOCKET_PATH, .fd = -1 };
        const Verb *verb;
        int i = 1, r;
        struct sigaction sa = { .sa_handler = verbs_on_interrupt };

        /* Options before the command: --socket PATH, --json, --help, --version. */
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        help(stdout);
                        return EXIT_OK;
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("pamprofctl %s\n", PACKAGE_VERSION);
                        return EXIT_OK;
                } else if (strcmp(argv[i], "--json") == 0)
                        ctl.json = true;
                else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
                        ctl.socket = argv[++i];
                else if (strncmp(argv[i], "--socket=", 9) == 0)
                        ctl.socket = argv[i] + 9;
                else {
                        fprintf(stderr, "pamprofctl: unknown option \"%s\". Try 'pamprofctl --help'.\n",
                                argv[i]);
                        return EXIT_USAGE;
                }
        }
        if (i >= argc) {
                help(stderr);
                return EXIT_USAGE;
        }
        verb = verb_find(argv[i]);
        if (!verb) {
                fprintf(stderr, "pamprofctl: unknown command \"%s\". Try 'pamprofctl --help'.\n", argv[i]);
                return EXIT_USAGE;
        }
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        r = verb->run(&ctl, argc - i, argv + i);
        ctl_close(&ctl);
        return r;
}
