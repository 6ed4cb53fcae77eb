/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdio.h>

#include "ctl.h"

typedef struct Verb {
        const char *name;
        const char *args;
        const char *summary;
        int (*run)(Ctl *ctl, int argc, char *argv[]);
        bool needs_daemon;
} Verb;

const Verb *verb_find(const char *name);
void verbs_help(FILE *f);

/* SIGINT/SIGTERM handler for verbs that loop (status --watch). */
void verbs_on_interrupt(int sig);
