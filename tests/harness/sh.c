/*
 * tests/harness/sh.c - see sh.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sh.h"

/* Runs a shell command line and collects its output and exit code. */
result sh(const char *cmd)
{
    char line[16384];
    result r = {.code = -1};
    size_t len = 0, cap = 1 << 16;
    FILE *p = popen(cmd, "r");
    size_t n;
    int st;

    cr_assert(p, "popen(%s)", cmd);
    r.out = malloc(cap);
    cr_assert(r.out);
    while ((n = fread(line, 1, sizeof line, p)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            r.out = realloc(r.out, cap);
            cr_assert(r.out);
        }
        memcpy(r.out + len, line, n);
        len += n;
    }
    r.out[len] = '\0';
    st = pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

result rdv(const char *args)
{
    char cmd[8192];

    snprintf(cmd, sizeof cmd, "%s %s 2>&1", RDV_BIN, args);
    return sh(cmd);
}

void tmpdir(char *buf, size_t cap)
{
    const char *t = getenv("TMPDIR");

    snprintf(buf, cap, "%s/rdv-test-XXXXXX", t && *t ? t : "/tmp");
    cr_assert(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

void rm_rf(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

int check_is(const char *out, const char *check, const char *verdict)
{
    for (const char *p = strstr(out, check); p; p = strstr(p + 1, check)) {
        const char *q = p + strlen(check);

        if (p > out && p[-1] != ' ')
            continue;
        while (*q == ' ')
            q++;
        if (strncmp(q, verdict, strlen(verdict)) == 0)
            return 1;
    }
    return 0;
}

int quick_mode(void)
{
    return getenv("RDV_TEST_QUICK") != NULL;
}
