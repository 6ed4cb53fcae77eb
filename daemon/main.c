/* SPDX-License-Identifier: MIT */
/*
 * pamprofd: the profiling daemon for PAM (the Petal App Manager).
 * Configuration first (defaults, then the file, then flags), then one event loop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "manager.h"

#define MAX_KEYS CONFIG_KEYS_MAX

enum { ARG_CONFIG = 0x100, ARG_CHECK, ARG_VERSION, ARG_DEBUG, ARG_KEY_BASE = 0x200 };

static void help(FILE *f)
{
        const ConfigKeyInfo *keys;
        size_t n = config_keys(&keys);

        fprintf(f,
                "Usage: pamprofd [OPTIONS]\n\n"
                "Profiling daemon for PAM (the Petal App Manager): watches for the PAM process and runs\n"
                "CPU/memory sessions that pamprofctl starts and stops over a Unix socket.\n\n"
                "  -c, --config FILE          configuration file (default " PAMPROF_CONFIG_FILE ")\n"
                "      --check-config         print the effective configuration and exit\n"
                "      --debug                log debug messages\n"
                "  -h, --help                 show this help\n"
                "      --version              show the version\n\n"
                "Every configuration key is also a flag, which overrides the file:\n");
        for (size_t i = 0; i < n; i++) {
                char left[64];
                snprintf(left, sizeof(left), "--%s %s", keys[i].flag, keys[i].metavar);
                fprintf(f, "      %-25s%s\n", left, keys[i].help);
        }
        fprintf(f, "\nSee pamprofd(8) and pamprofd.conf(5).\n");
}

typedef struct Args {
        ConfigSource source;
        bool check, debug;
} Args;

static int parse_args(int argc, char *argv[], Args *a)
{
        const ConfigKeyInfo *keys;
        size_t n = config_keys(&keys);
        struct option opts[MAX_KEYS + 8] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK },
                { "debug", no_argument, NULL, ARG_DEBUG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
        };
        size_t k = 5;
        int c;

        for (size_t i = 0; i < n && i < MAX_KEYS; i++)
                opts[k++] = (struct option){ keys[i].flag, required_argument, NULL, ARG_KEY_BASE + (int) i };
        opts[k] = (struct option){ 0 };

        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        a->source.path = optarg;
                        a->source.required = true;
                        break;
                case ARG_CHECK:
                        a->check = true;
                        break;
                case ARG_DEBUG:
                        a->debug = true;
                        break;
                case 'h':
                        help(stdout);
                        exit(EXIT_SUCCESS);
                case ARG_VERSION:
                        printf("pamprofd %s\n", PACKAGE_VERSION);
                        exit(EXIT_SUCCESS);
                case '?':
                        fprintf(stderr, "Try 'pamprofd --help'.\n");
                        return -EINVAL;
                default:
                        if (c >= ARG_KEY_BASE && c < ARG_KEY_BASE + (int) n)
                                a->source.values[c - ARG_KEY_BASE] = optarg;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "pamprofd: unexpected argument \"%s\". Try 'pamprofd --help'.\n",
                        argv[optind]);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[])
{
        Args args = { .source.path = PAMPROF_CONFIG_FILE };
        Manager *m = NULL;
        Config config;
        int r;

        log_setup("pamprofd");
        /* Child sources of the event loop (py-spy) need SIGCHLD blocked from the start. */
        {
                sigset_t ss;
                sigemptyset(&ss);
                sigaddset(&ss, SIGCHLD);
                sigprocmask(SIG_BLOCK, &ss, NULL);
        }
        if (parse_args(argc, argv, &args) < 0)
                return 2;
        if (args.debug)
                log_set_max_level(LOG_DEBUG);
        r = config_load_source(&args.source, &config);
        if (r < 0) {
                (void) sd_notifyf(false, "STATUS=configuration error\nERRNO=%d", -r);
                return 1;
        }
        if (args.check) {
                config_dump(&config, stdout);
                config_done(&config);
                return 0;
        }
        r = manager_new(&config, &args.source, &m);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the daemon");
                config_done(&config);
                return 1;
        }
        config = (Config){ 0 }; /* the manager owns it now, and replaces it on reload */
        r = manager_startup(m);
        if (r >= 0)
                r = manager_run(m);
        if (r < 0)
                (void) sd_notifyf(false, "STATUS=failed: %s\nERRNO=%d", strerror(-r), -r);
        manager_free(m);
        log_info("pamprofd exits");
        return r < 0 ? 1 : 0;
}
