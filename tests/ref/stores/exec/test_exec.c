/*
 * tests/ref/stores/exec/test_exec.c - the exec: store against real
 * adapter processes (bad_adapter.c, one mode per misbehaviour, and a few
 * scripts written here): an open that fails says why and names the
 * adapter; a crash, garbage, an oversized reply or an unknown status mid
 * call is an error naming the adapter, its pid and the op; a handle
 * belongs to its process; adapters are reaped at close; and (suite
 * exec_timing, label timing) a silent adapter ends the call by its
 * deadline plus the 1 s grace and a generous slack, and close wakes a
 * call blocked on it at once.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/store.h"
#include "rdv/store_ops.h"

#define GRACE_MS 1000 /* exec.c: a timed op's reply may come this late */
#define SLACK_MS 1000 /* the contract's bound, on top */

static rdv_store *open_mode(const char *mode, const char *extra, int want,
                            char *err, size_t errlen)
{
    char url[512];
    rdv_store *s = NULL;
    int rc;

    snprintf(url, sizeof url, "exec:%s?mode=%s%s", RDV_BAD_ADAPTER, mode,
             extra ? extra : "");
    rc = rdv_store_open(url, &s, err, errlen);
    cr_assert_eq(rc, want, "open %s: %s, want %s: %s", url,
                 rdv_status_name(rc), rdv_status_name(want), err);
    return s;
}

static void expect_err(const char *err, const char *part)
{
    cr_assert(strstr(err, part), "'%s' does not say '%s'", err, part);
}

/* A file holding text with the given mode, for open errors. */
static void write_file(char *path, const char *text, mode_t mode)
{
    int fd = mkstemp(path);
    FILE *f;

    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* No child of this process is left, running or unreaped. */
static void expect_no_children(void)
{
    int status;

    cr_assert_eq(waitpid(-1, &status, WNOHANG), -1, "a child is left");
    cr_assert_eq(errno, ECHILD);
}

Test(exec, missing_and_non_executable_adapters)
{
    char err[512], url[256], script[] = "/tmp/rdv-exec-test-XXXXXX";
    rdv_store *s = NULL;
    FILE *f;

    cr_assert_eq(rdv_store_open("exec:/nonexistent/adapter", &s, err,
                                sizeof err), RDV_EINVAL);
    expect_err(err, "/nonexistent/adapter");
    expect_err(err, "No such file");
    write_file(script, "#!/bin/sh\n", 0644);
    snprintf(url, sizeof url, "exec:%s", script);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_EINVAL);
    expect_err(err, "is not an executable file (mode 0644)");
    expect_err(err, "chmod +x");
    cr_assert_not_null(f = fopen(script, "w"));
    fputs("#!/nonexistent/interpreter\n", f);
    fclose(f);
    chmod(script, 0755);
    cr_assert_neq(rdv_store_open(url, &s, err, sizeof err), RDV_OK);
    /* valgrind --trace-children runs the exec itself and exits 126 */
    if (!strstr(err, "exited with status 126")) {
        expect_err(err, "cannot be started");
        expect_err(err, "interpreter");
    }
    cr_assert_eq(rdv_store_open("exec:", &s, err, sizeof err), RDV_EINVAL);
    expect_err(err, "exec: takes the path of an adapter");
    unlink(script);
    expect_no_children();
}

Test(exec, version_mismatch)
{
    char err[512];

    open_mode("version", NULL, RDV_EPROTO, err, sizeof err);
    expect_err(err, "speaks exec protocol version 99");
    expect_err(err, RDV_BAD_ADAPTER);
    expect_err(err, "(pid ");
    expect_no_children();
}

Test(exec, adapter_that_exits_at_once)
{
    char err[512];

    open_mode("exit", NULL, RDV_ECONN, err, sizeof err);
    expect_err(err, "exited with status 3");
    expect_no_children();
}

Test(exec, garbage_instead_of_a_hello)
{
    char err[512];

    open_mode("garbage", NULL, RDV_EPROTO, err, sizeof err);
    expect_err(err, "sent a bad reply");
    expect_err(err, "print to stdout");
    expect_no_children();
}

Test(exec, options_become_arguments_and_a_refusal_is_the_open_error)
{
    char err[512];

    /* refuse answers the hello with its argv as the message */
    open_mode("refuse", "&path=/x&k=a%20b&timeout_ms=5000&prefix=p&k=2",
              RDV_EINVAL, err, sizeof err);
    expect_err(err, "refused to start: --mode=refuse --path=/x --k=a b "
                    "--k=2");
    cr_assert_null(strstr(err, "--timeout_ms"), "%s", err);
    cr_assert_null(strstr(err, "--prefix"), "%s", err);
}

Test(exec, a_level_without_its_ops_is_refused)
{
    char err[512];

    open_mode("full", NULL, RDV_EPROTO, err, sizeof err);
    expect_err(err, "declared level full without the op add");
}

Test(exec, gloo_level_offers_what_it_declares)
{
    const char *keys[] = {"a", "b"}, *vals[] = {"1", "22"};
    size_t lens[] = {1, 2}, got_lens[2], deleted;
    void *got[2];
    int64_t n;
    char err[512];
    rdv_store *s = open_mode("good", NULL, RDV_OK, err, sizeof err);

    cr_assert_eq(rdv_store_contract_level(s), RDV_STORE_LEVEL_GLOO);
    cr_assert(rdv_store_flags(s) & RDV_STORE_PROCESS_LOCAL,
              "scope=process makes the store process-local");
    cr_assert_str_eq(rdv_store_name(s), "exec");
    cr_assert_eq(rdv_store_add(s, "c", 1, NULL), RDV_ENOTSUP);
    expect_err(rdv_store_errmsg(s), "add: adapter");
    expect_err(rdv_store_errmsg(s), "level gloo, ops set,get,wait");
    cr_assert_eq(rdv_store_num_keys(s, &n), RDV_ENOTSUP);
    cr_assert_eq(rdv_store_delete_prefix(s, "", &deleted), RDV_ENOTSUP);
    /* multi_set and multi_get come from rdv's fallbacks */
    cr_assert_eq(rdv_store_multi_set(s, keys, (const void *const *)vals,
                                     lens, 2), RDV_OK);
    cr_assert_eq(rdv_store_multi_get(s, keys, 2, got, got_lens, 1000),
                 RDV_OK, "%s", rdv_store_errmsg(s));
    cr_assert_eq(got_lens[1], 2);
    cr_assert_str_eq(got[1], "22");
    free(got[0]);
    free(got[1]);
    rdv_store_close(s);
    expect_no_children();
}

Test(exec, full_level_store_claims_full)
{
    char err[512];
    rdv_store *s = NULL;

    cr_assert_eq(rdv_store_open("hash:", &s, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_store_contract_level(s), RDV_STORE_LEVEL_FULL);
    rdv_store_close(s);
    cr_assert_eq(rdv_store_contract_level(NULL), 0);
}

/* get 'k' on s must fail with want, naming the op, adapter and pid. */
static void expect_get_fails(rdv_store *s, int want, const char *part)
{
    void *v = NULL;
    size_t len;
    int rc = rdv_store_get(s, "k", &v, &len, 2000);

    cr_assert_eq(rc, want, "get: %s, want %s: %s", rdv_status_name(rc),
                 rdv_status_name(want), rdv_store_errmsg(s));
    expect_err(rdv_store_errmsg(s), "get 'k': adapter '" RDV_BAD_ADAPTER);
    expect_err(rdv_store_errmsg(s), "(pid ");
    expect_err(rdv_store_errmsg(s), part);
}

Test(exec, crash_mid_call_then_a_process_scope_handle_is_unusable)
{
    char err[512];
    rdv_store *s = open_mode("crash", NULL, RDV_OK, err, sizeof err);

    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK);
    expect_get_fails(s, RDV_ECONN, "was killed by signal 11");
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_ESTATE);
    expect_err(rdv_store_errmsg(s), "scope=process");
    rdv_store_close(s);
    expect_no_children();
}

Test(exec, crash_of_a_shared_adapter_starts_a_new_one)
{
    char err[512];
    rdv_store *s = open_mode("crash", "&scope=shared", RDV_OK, err,
                             sizeof err);

    expect_get_fails(s, RDV_ECONN, "the next call starts a new one");
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    rdv_store_close(s);
    expect_no_children();
}

Test(exec, oversized_reply)
{
    char err[512];
    rdv_store *s = open_mode("oversize", "&scope=shared", RDV_OK, err,
                             sizeof err);

    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK);
    expect_get_fails(s, RDV_EPROTO, "declares 67108865 bytes for a field "
                                    "of at most 67108864");
    rdv_store_close(s);
    expect_no_children();
}

Test(exec, unknown_status)
{
    char err[512];
    rdv_store *s = open_mode("badstatus", "&scope=shared", RDV_OK, err,
                             sizeof err);

    expect_get_fails(s, RDV_EPROTO, "status 7, which is not an rdv status");
    rdv_store_close(s);
    expect_no_children();
}

Test(exec, a_handle_belongs_to_the_process_that_opened_it)
{
    char err[512];
    rdv_store *s = open_mode("good", NULL, RDV_OK, err, sizeof err);
    int status;
    pid_t pid;

    cr_assert_eq(rdv_store_set(s, "k", "parent", 6, 0), RDV_OK);
    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int ok = rdv_store_set(s, "k", "child", 5, 0) == RDV_ESTATE &&
                 strstr(rdv_store_errmsg(s), "must open its own");

        rdv_store_close(s); /* drops the child's copies only */
        exit(ok ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child's call was not refused with RDV_ESTATE");
    {
        void *v = NULL;
        size_t len;

        cr_assert_eq(rdv_store_get(s, "k", &v, &len, 1000), RDV_OK,
                     "the parent's adapter survived the child's close: %s",
                     rdv_store_errmsg(s));
        cr_assert_str_eq(v, "parent");
        free(v);
    }
    rdv_store_close(s);
    expect_no_children();
}

/* ---- timing: deadlines and close (label timing) ---------------------- */

static int64_t ms_since(int64_t t0)
{
    return (rdv_now_ns() - t0) / 1000000;
}

Test(exec_timing, silent_adapter_ends_get_by_its_deadline)
{
    char err[512];
    rdv_store *s = open_mode("silent", "&scope=shared", RDV_OK, err,
                             sizeof err);
    int64_t t0 = rdv_now_ns(), took;
    void *v = NULL;
    size_t len;
    int rc = rdv_store_get(s, "k", &v, &len, 300);

    took = ms_since(t0);
    cr_assert_eq(rc, RDV_ETIMEDOUT, "%s", rdv_store_errmsg(s));
    cr_assert_geq(took, 300);
    cr_assert_leq(took, 300 + GRACE_MS + SLACK_MS, "took %lld ms",
                  (long long)took);
    expect_err(rdv_store_errmsg(s), "get 'k': adapter '" RDV_BAD_ADAPTER);
    expect_err(rdv_store_errmsg(s), "was still working on the request at "
                                    "the deadline");
    /* try once: the same bound from 0 */
    t0 = rdv_now_ns();
    cr_assert_eq(rdv_store_try_get(s, "k", &v, &len), RDV_ENOTFOUND);
    cr_assert_leq(ms_since(t0), GRACE_MS + SLACK_MS);
    rdv_store_close(s);
    expect_no_children();
}

Test(exec_timing, silent_adapter_ends_set_by_timeout_ms)
{
    char err[512];
    rdv_store *s = open_mode("silent", "&scope=shared&timeout_ms=300",
                             RDV_OK, err, sizeof err);
    int64_t t0 = rdv_now_ns(), took;
    int rc = rdv_store_set(s, "k", "v", 1, 0);

    took = ms_since(t0);
    cr_assert_eq(rc, RDV_ETIMEDOUT, "%s", rdv_store_errmsg(s));
    cr_assert_geq(took, 300);
    cr_assert_leq(took, 300 + SLACK_MS, "took %lld ms", (long long)took);
    expect_err(rdv_store_errmsg(s), "set 'k': adapter '" RDV_BAD_ADAPTER);
    expect_err(rdv_store_errmsg(s), "timeout_ms of the store URL");
    rdv_store_close(s);
    expect_no_children();
}

typedef struct blocked {
    rdv_store *s;
    int rc;
    int64_t returned_ns;
} blocked;

static void *get_forever(void *arg)
{
    blocked *b = arg;
    void *v = NULL;
    size_t len;

    b->rc = rdv_store_get(b->s, "k", &v, &len, -1);
    b->returned_ns = rdv_now_ns();
    free(v);
    return NULL;
}

Test(exec_timing, close_wakes_a_call_blocked_on_a_silent_adapter)
{
    struct timespec tick = {0, 1000000}, settle = {0, 100000000};
    char err[512];
    blocked b = {open_mode("silent", NULL, RDV_OK, err, sizeof err), 0, 0};
    int64_t closed, t0 = rdv_now_ns();
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, get_forever, &b), 0);
    while (rdv_store_calls_inside(b.s) == 0 && ms_since(t0) < 10000)
        nanosleep(&tick, NULL);
    nanosleep(&settle, NULL);
    closed = rdv_now_ns();
    rdv_store_close(b.s); /* the adapter ignores SIGTERM: SIGKILL ends it */
    pthread_join(t, NULL);
    cr_assert_eq(b.rc, RDV_ECANCELED);
    cr_assert_leq((b.returned_ns - closed) / 1000000, SLACK_MS,
                  "the blocked get returned %lld ms after close",
                  (long long)((b.returned_ns - closed) / 1000000));
    cr_assert_leq(ms_since(closed), 600 + SLACK_MS, "close took %lld ms",
                  (long long)ms_since(closed));
    expect_no_children();
}
