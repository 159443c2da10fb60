/*
 * test_redis_service.c - ci/services/redis as the harness uses it for the
 * server.restart fault: `restart DIR` brings the server back on the same
 * port and unix socket as a new process, says nothing on stdout, and a
 * store handle opened before it works after it; a DIR with no server
 * makes it fail with a message. The script runs for real, on a server in
 * a temp dir of this test, stopped by the script (by its PID) at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rdv/store.h"
#include "redis_util.h"

static char dir[64];

/* Runs `ci/services/redis verb d`; its stdout goes to out (cap bytes,
 * NUL-terminated), its stderr to the test's. Returns the exit status. */
static int service(const char *verb, const char *d, char *out, size_t cap)
{
    char cmd[512];
    size_t n = 0;
    FILE *p;
    int st;

    snprintf(cmd, sizeof cmd, "'%s' %s '%s'", RDV_SERVICES_REDIS, verb, d);
    p = popen(cmd, "re");
    cr_assert(p, "popen %s: %s", cmd, strerror(errno));
    while (n + 1 < cap && !feof(p) && !ferror(p))
        n += fread(out + n, 1, cap - 1 - n, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void need_tools(void)
{
    redis_need(system("command -v redis-server >/dev/null && "
                      "command -v redis-cli >/dev/null") == 0,
               "redis-server or redis-cli is not installed");
}

static void fini(void)
{
    char out[256], path[128];

    if (!dir[0])
        return;
    service("stop", dir, out, sizeof out);
    snprintf(path, sizeof path, "%s/redis.log", dir);
    unlink(path);
    rmdir(dir);
}

/* The value of "export NAME=value" in the start output. */
static void export_of(const char *out, const char *name, char *buf,
                      size_t cap)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof pat, "export %s=", name);
    p = strstr(out, pat);
    cr_assert(p, "start printed no %s: %s", name, out);
    p += strlen(pat);
    snprintf(buf, cap, "%.*s", (int)strcspn(p, "\n"), p);
}

static long pid_in(const char *d)
{
    char path[128];
    long pid = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/redis.pid", d);
    f = fopen(path, "re");
    cr_assert(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fscanf(f, "%ld", &pid), 1, "%s holds no PID", path);
    fclose(f);
    return pid;
}

/* Whether pid still runs: a zombie that its new parent has not reaped
 * yet has stopped, as the script also judges. */
static int running(long pid)
{
    char path[64], stat[512];
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    p = strrchr(stat, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* One test on purpose: two in parallel (--jobs 2) leave a 48-byte leak
 * inside libcriterion's runner that LeakSanitizer reports. */
Test(redis_service, restart_keeps_the_address_and_the_store_reconnects,
     .fini = fini, .timeout = 120)
{
    char out[1024], url[256], sock[256];
    rdv_store *tcp, *unx;
    void *v = NULL;
    size_t len;
    long before;

    need_tools();
    snprintf(dir, sizeof dir, "/tmp/rdv-svc-test-XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    /* Nothing started there yet: restart must fail, and say so. */
    cr_expect(service("restart", dir, out, sizeof out) != 0,
              "restart of an empty dir succeeded");
    cr_expect(!out[0], "it printed on stdout: %s", out);

    cr_assert_eq(service("start", dir, out, sizeof out), 0, "start failed");
    export_of(out, "RDV_TEST_REDIS_URL", url, sizeof url);
    export_of(out, "RDV_TEST_REDIS_SOCK", sock, sizeof sock);
    tcp = redis_open_ok(url);
    unx = redis_open_ok(sock);
    cr_assert_eq(rdv_store_set(tcp, "svc/key", "v", 1, 0), RDV_OK);
    before = pid_in(dir);

    cr_assert_eq(service("restart", dir, out, sizeof out), 0,
                 "restart failed");
    cr_expect(!out[0], "restart printed on stdout: %s", out);
    cr_expect(pid_in(dir) != before, "the PID did not change");
    cr_expect(!running(before), "the old server %ld still runs", before);
    /* Same address: both handles reconnect; no persistence, so the key
     * is gone, as the server.restart fault means. */
    cr_expect_eq(rdv_store_try_get(tcp, "svc/key", &v, &len), RDV_ENOTFOUND,
                 "%s", rdv_store_errmsg(tcp));
    cr_expect_eq(rdv_store_set(unx, "svc/key", "w", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(unx));
    cr_expect_eq(rdv_store_get(tcp, "svc/key", &v, &len, 2000), RDV_OK,
                 "%s", rdv_store_errmsg(tcp));
    free(v);
    rdv_store_close(tcp);
    rdv_store_close(unx);
}
