/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: every /proc parser of common/proc-*.c on the same
 * bytes (stat, meminfo, smaps_rollup, schedstat, cmdline, comm, the
 * CPU count of /proc/stat). Their input is written by the kernel, but the
 * comm inside stat and the cmdline are whatever the watched process chose,
 * and the parsers take lengths, not NUL-terminated strings: the fuzzer's
 * buffer is passed with nothing after it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc-cmdline.h"
#include "proc-comm.h"
#include "proc-cpus.h"
#include "proc-field.h"
#include "proc-meminfo.h"
#include "proc-schedstat.h"
#include "proc-smaps.h"
#include "proc-stat.h"
#include "proc-uptime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *) data;
        ProcStat st;
        uint64_t u;
        unsigned n;
        char comm[16], tiny[1], *cmdline = NULL;

        if (proc_stat_parse(buf, size, &st) == 0) {
                if (strnlen(st.comm, sizeof(st.comm)) > PROC_COMM_MAX || st.pid < 0 || st.ppid < 0)
                        abort();
        }
        if (proc_meminfo_parse(buf, size, &u) == 0 && u == 0)
                abort(); /* it is divided by */
        (void) proc_smaps_rollup_parse(buf, size, &u);
        {
                ProcSchedstat ss;
                (void) proc_schedstat_parse(buf, size, &ss);
        }
        {
                double up;
                (void) proc_uptime_parse(buf, size, &up);
        }
        if (proc_cpus_parse(buf, size, &n) == 0 && n == 0)
                abort();
        if (proc_comm_parse(buf, size, comm, sizeof(comm)) == 0 && strlen(comm) >= sizeof(comm))
                abort();
        (void) proc_comm_parse(buf, size, tiny, sizeof(tiny));
        if (proc_cmdline_parse(buf, size, &cmdline) == 0) {
                if (strlen(cmdline) > size)
                        abort();
                free(cmdline);
        }
        /* The field helpers on their own, as the sampler's status readers use them. */
        (void) proc_field_kb_line(buf, size, "VmRSS", &u);
        {
                const char *p = buf, *end = buf + size, *tok;
                size_t len;
                int64_t i;

                while (proc_field_next(&p, end, &tok, &len) == 0) {
                        if (tok < buf || tok + len > end || len == 0)
                                abort();
                        (void) proc_field_u64(tok, len, &u);
                        (void) proc_field_i64(tok, len, &i);
                }
        }
        return 0;
}
