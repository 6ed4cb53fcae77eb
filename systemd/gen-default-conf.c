/* SPDX-License-Identifier: MIT */
/*
 * Build tool: prints the daemon's defaults exactly as `pamprofd --config
 * /dev/null --check-config` does, with the daemon's own code (config_init and
 * config_dump of daemon/config.c), for gen-default-conf.sh to turn into the
 * default /etc/pamprofd/pamprofd.conf. It is compiled for the build machine
 * (meson's native: true), so a cross build (aarch64 on amd64) writes the file
 * without running a program of the target's architecture.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

int main(void)
{
        Config c;
        int r;

        r = config_init(&c);
        if (r < 0) {
                fprintf(stderr, "gen-default-conf: cannot fill the defaults: %s\n", strerror(-r));
                return 1;
        }
        config_dump(&c, stdout);
        config_done(&c);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "gen-default-conf: cannot write: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}
