/* A cmocka skip that says why: tests/check.sh prints the reason beside the skipped case,
 * and counts it as a skip, never as a pass. Under CI every skip but an optional one fails. */
#pragma once

#include <stdio.h>

#define skip_because(reason)                             \
        do {                                             \
                printf("# skip reason: %s\n", (reason)); \
                fflush(stdout);                          \
                skip();                                  \
        } while (0)
