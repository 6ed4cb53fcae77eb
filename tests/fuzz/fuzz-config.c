/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: config_parse() (daemon/config.c), the daemon's reading
 * of pamprofd.conf, then config_dump() of what it kept. config_verify() is
 * left out: it hands target_match to glibc's regcomp(), whose appetite for
 * "a{1000}{1000}" is glibc's, not ours.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text, *error = NULL;
        Config c;
        int r;

        /* config_load() refuses files over 64 KiB; so does this. */
        if (size > 64 * 1024)
                return 0;
        if (!devnull)
                devnull = fopen("/dev/null", "we");
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        if (config_init(&c) < 0)
                abort();
        r = config_parse(&c, "fuzz.conf", text, &error);
        if (r < 0 && (!error || strncmp(error, "fuzz.conf:", 10) != 0) && r != -ENOMEM)
                abort(); /* every refusal says file:line: reason */
        if (r == 0 && error)
                abort();
        if (devnull)
                config_dump(&c, devnull);
        free(error);
        config_done(&c);
        free(text);
        return 0;
}
