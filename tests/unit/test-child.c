/* SPDX-License-Identifier: MIT */
/* Worker children: results, errors, time limits, and the unprivileged ones' identity. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"

typedef struct Identity {
        unsigned uid, euid, gid, groups;
        unsigned long long cap_eff, cap_prm, cap_amb;
        int no_new_privs;
} Identity;

static int who_am_i(void *arg, void *out, char **err)
{
        Identity *id = out;
        char line[256];
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "Uid: %u %u", &id->uid, &id->euid);
                sscanf(line, "Gid: %u", &id->gid);
                sscanf(line, "CapEff: %llx", &id->cap_eff);
                sscanf(line, "CapPrm: %llx", &id->cap_prm);
                sscanf(line, "CapAmb: %llx", &id->cap_amb);
                sscanf(line, "NoNewPrivs: %d", &id->no_new_privs);
        }
        fclose(f);
        id->groups = (unsigned) getgroups(0, NULL);
        return 0;
}

static void test_unprivileged_child(void **state)
{
        Identity id = { .cap_eff = ~0ULL };
        char *err = NULL;

        assert_int_equal(child_run_unprivileged(1234, 4321, who_am_i, NULL, &id, sizeof(id), &err), 0);
        assert_null(err);
        assert_int_equal(id.cap_eff, 0);
        assert_int_equal(id.cap_prm, 0);
        assert_int_equal(id.cap_amb, 0);
        assert_int_equal(id.no_new_privs, 1);
        if (geteuid() == 0) {
                assert_int_equal(id.uid, 1234);
                assert_int_equal(id.euid, 1234);
                assert_int_equal(id.gid, 4321);
                assert_int_equal(id.groups, 0);
                /* Files owned by root: nobody, never root. */
                memset(&id, 0, sizeof(id));
                assert_int_equal(child_run_unprivileged(0, 0, who_am_i, NULL, &id, sizeof(id), &err), 0);
                assert_int_equal(id.euid, 65534);
                assert_int_equal(id.gid, 65534);
                /* Files of the daemon's own ((uid_t) -1, as sessions without --output have): the same. */
                memset(&id, 0, sizeof(id));
                assert_int_equal(child_run_unprivileged((uid_t) -1, (gid_t) -1, who_am_i, NULL, &id,
                                                        sizeof(id), &err),
                                 0);
                assert_int_equal(id.euid, 65534);
                assert_int_equal(id.cap_eff, 0);
        } else
                assert_int_equal(id.euid, (unsigned) geteuid());
        /* The plain kind keeps the daemon's identity. */
        memset(&id, 0, sizeof(id));
        assert_int_equal(child_run(who_am_i, NULL, &id, sizeof(id), &err), 0);
        assert_int_equal(id.euid, (unsigned) geteuid());
        assert_int_equal(id.no_new_privs, 0);
}

static int fails(void *arg, void *out, char **err)
{
        *err = strdup("it went wrong");
        return -EBADMSG;
}

static int crashes(void *arg, void *out, char **err)
{
        abort();
}

static int hangs(void *arg, void *out, char **err)
{
        pause();
        return 0;
}

static void test_errors_and_time_limit(void **state)
{
        char *err = NULL;
        int dummy = 0;

        assert_int_equal(child_run(fails, NULL, &dummy, sizeof(dummy), &err), -EBADMSG);
        assert_string_equal(err, "it went wrong");
        free(err);
        err = NULL;
        assert_int_equal(child_run(crashes, NULL, &dummy, sizeof(dummy), &err), -ECHILD);
        assert_non_null(strstr(err, "the worker process died (signal 6)"));
        free(err);
        err = NULL;
        assert_int_equal(child_run_for(300, hangs, NULL, &dummy, sizeof(dummy), &err), -ETIMEDOUT);
        assert_string_equal(err, "the worker process did not finish within 0.3 s and was killed");
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unprivileged_child),
                cmocka_unit_test(test_errors_and_time_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
