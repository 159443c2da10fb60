/*
 * test_tcp_env.c - env:// and rdv_context_options_from_env(): rdv's
 * variables first, PyTorch's second, and an error naming the variable
 * for every one that is missing or malformed. A MASTER_ADDR store is
 * served by rank 0 for real (a server on a loopback port).
 *
 * Criterion runs each test in a process of its own, so setenv() here
 * never leaks into another test; each starts from a clean slate.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/context.h"
#include "rdv/store.h"
#include "tcp_util.h"

static const char *const vars[] = {
    "RDV_STORE", "RDV_RANK", "RDV_SIZE", "RDV_JOB", "MASTER_ADDR",
    "MASTER_PORT", "RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID",
};

static void clean_env(void)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

TestSuite(env, .init = clean_env, .timeout = 60);

static int from_env(rdv_context_options *o, char *err)
{
    *o = rdv_context_options_default();
    return rdv_context_options_from_env(o, err, 512);
}

Test(env, rdv_names_win_over_pytorch_names)
{
    rdv_context_options o;
    char err[512];

    setenv("RDV_RANK", "2", 1);
    setenv("RDV_SIZE", "4", 1);
    setenv("RDV_JOB", "job7", 1);
    setenv("RANK", "0", 1);
    setenv("WORLD_SIZE", "8", 1);
    setenv("TORCHELASTIC_RUN_ID", "torch-run", 1);
    cr_assert_eq(from_env(&o, err), RDV_OK, "%s", err);
    cr_assert_eq(o.rank, 2);
    cr_assert_eq(o.size, 4);
    cr_assert_str_eq(o.job, "job7");
}

Test(env, pytorch_names_are_the_fallback)
{
    rdv_context_options o;
    char err[512];

    setenv("RANK", "3", 1);
    setenv("WORLD_SIZE", "8", 1);
    setenv("TORCHELASTIC_RUN_ID", "run42", 1);
    cr_assert_eq(from_env(&o, err), RDV_OK, "%s", err);
    cr_assert_eq(o.rank, 3);
    cr_assert_eq(o.size, 8);
    cr_assert_str_eq(o.job, "run42");
    unsetenv("TORCHELASTIC_RUN_ID");
    cr_assert_eq(from_env(&o, err), RDV_OK, "%s", err);
    cr_assert_null(o.job, "no job variable: the default job stays");
}

/* from_env must fail with every word of want in the message. */
static void expect_error(const char *want1, const char *want2)
{
    rdv_context_options o;
    char err[512] = "";

    cr_assert_eq(from_env(&o, err), RDV_EINVAL, "accepted; want '%s'",
                 want1);
    cr_assert(strstr(err, want1), "'%s' lacks '%s'", err, want1);
    if (want2)
        cr_assert(strstr(err, want2), "'%s' lacks '%s'", err, want2);
}

Test(env, every_missing_or_malformed_variable_is_named)
{
    expect_error("RDV_RANK", "RANK is");
    setenv("RANK", "0", 1);
    expect_error("RDV_SIZE", "WORLD_SIZE");
    setenv("WORLD_SIZE", "four", 1);
    expect_error("WORLD_SIZE='four'", "not a number");
    setenv("WORLD_SIZE", "4", 1);
    setenv("RDV_RANK", "-1", 1);
    expect_error("RDV_RANK='-1'", NULL);
    setenv("RDV_RANK", "+1", 1);
    expect_error("RDV_RANK='+1'", NULL);
    setenv("RDV_RANK", " 1", 1);
    expect_error("RDV_RANK=' 1'", NULL);
    setenv("RDV_RANK", "", 1);
    expect_error("RDV_RANK=''", NULL);
    setenv("RDV_RANK", "4", 1);
    expect_error("RDV_RANK=4 is not below WORLD_SIZE=4", NULL);
    setenv("RDV_RANK", "1", 1);
    setenv("RDV_JOB", "", 1);
    expect_error("RDV_JOB is set but empty", NULL);
    setenv("RDV_SIZE", "0", 1);
    expect_error("RDV_SIZE='0'", NULL);
}

Test(env, uninitialised_options_are_refused)
{
    rdv_context_options o;
    char err[512];

    memset(&o, 0, sizeof o);
    setenv("RANK", "0", 1);
    setenv("WORLD_SIZE", "1", 1);
    cr_assert_eq(rdv_context_options_from_env(&o, err, sizeof err),
                 RDV_EINVAL);
    cr_assert(strstr(err, "initialised"), "%s", err);
    cr_assert_eq(rdv_context_options_from_env(NULL, err, sizeof err),
                 RDV_EINVAL);
}

static void expect_store_error(const char *want1, const char *want2)
{
    char err[512] = "";
    rdv_store *s = NULL;

    cr_assert_eq(rdv_store_open("env://", &s, err, sizeof err), RDV_EINVAL,
                 "opened; want '%s'", want1);
    cr_assert_null(s);
    cr_assert(strstr(err, want1), "'%s' lacks '%s'", err, want1);
    if (want2)
        cr_assert(strstr(err, want2), "'%s' lacks '%s'", err, want2);
}

Test(env, the_store_variables_are_named_when_wrong)
{
    expect_store_error("neither RDV_STORE nor MASTER_ADDR", NULL);
    setenv("RDV_STORE", "env://", 1);
    expect_store_error("RDV_STORE", "env: itself");
    setenv("RDV_STORE", "", 1);
    expect_store_error("RDV_STORE is set but empty", NULL);
    setenv("RDV_STORE", "redis://:hunter2@127.0.0.1:1?bogus=1", 1);
    expect_store_error("environment (RDV_STORE)", "bogus");
    {
        char err[512];
        rdv_store *s;

        rdv_store_open("env://", &s, err, sizeof err);
        cr_assert_null(strstr(err, "hunter2"), "a password shows: %s", err);
    }
    unsetenv("RDV_STORE");
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    expect_store_error("MASTER_PORT is not set", NULL);
    setenv("MASTER_PORT", "http", 1);
    expect_store_error("MASTER_PORT='http'", NULL);
    setenv("MASTER_PORT", "70000", 1);
    expect_store_error("MASTER_PORT='70000'", NULL);
    setenv("MASTER_PORT", "29500", 1);
    expect_store_error("RANK", "rank 0 serves");
    setenv("RANK", "x", 1);
    expect_store_error("RANK='x'", NULL);
    {
        char err[512];
        rdv_store *s;

        cr_assert_eq(rdv_store_open("env://somehost", &s, err, sizeof err),
                     RDV_EINVAL);
        cr_assert(strstr(err, "takes no host"), "%s", err);
    }
}

Test(env, rdv_store_names_any_store)
{
    char err[512];
    rdv_store *s;

    setenv("RDV_STORE", "hash:", 1);
    cr_assert_eq(rdv_store_open("env://", &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_str_eq(rdv_store_name(s), "hash");
    rdv_store_close(s);
    cr_assert_eq(rdv_store_open("env://?prefix=p", &s, err, sizeof err),
                 RDV_OK, "%s", err);
    cr_assert_str_eq(rdv_store_name(s), "prefix");
    rdv_store_close(s);
}

/* MASTER_ADDR/MASTER_PORT: rank 0's handle serves, rank 1's talks to it. */
Test(env, master_addr_is_a_tcp_store_served_by_rank_0)
{
    tcp_server_proc probe;
    char err[512], port[16];
    rdv_store *r0, *r1;
    void *v;
    size_t len;

    cr_assert_eq(tcp_server_spawn(&probe, "127.0.0.1:0", NULL, 0, err,
                                  sizeof err), 0, "%s", err);
    snprintf(port, sizeof port, "%d", probe.port); /* a free port */
    tcp_server_stop(&probe);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", port, 1);
    setenv("RANK", "1", 1);
    cr_assert_eq(rdv_store_open("env://", &r1, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_assert_str_eq(rdv_store_name(r1), "tcp");
    setenv("RANK", "0", 1);
    cr_assert_eq(rdv_store_open("env://", &r0, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_assert_eq(rdv_store_set(r1, "from-1", "hi", 2, 0), RDV_OK, "%s",
                 rdv_store_errmsg(r1));
    cr_assert_eq(rdv_store_get(r0, "from-1", &v, &len, 1000), RDV_OK, "%s",
                 rdv_store_errmsg(r0));
    cr_assert(len == 2 && memcmp(v, "hi", 2) == 0);
    free(v);
    rdv_store_close(r1);
    rdv_store_close(r0);
}
