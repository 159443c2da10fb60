/*
 * test_options.c - the public option structs can grow without breaking
 * the ABI: struct_size set by the init functions, checked by
 * rdv_context_create() and every collective.
 *
 *  - the defaults, and init writing exactly the caller's size;
 *  - struct_size 0, below the first version and garbage are RDV_EINVAL
 *    with a message naming the struct and how to initialise it;
 *  - a newer caller's larger struct is taken while its extra bytes are
 *    zero, and refused once it sets one;
 *  - an older caller's smaller struct keeps the defaults for the fields
 *    it lacks (on a toy struct: today's structs are their first
 *    version, so no older caller exists yet);
 *  - the handshake budget's default, which depends on the size.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include "context_internal.h"
#include "options.h"
#include "ranks.h"
#include "rdv/collectives.h"

Test(options, context_defaults)
{
    rdv_context_options o = rdv_context_options_default();

    cr_expect_eq(o.struct_size, sizeof o);
    cr_expect_eq(o.rank, 0);
    cr_expect_eq(o.size, 1);
    cr_expect_eq(o.timeout_ms, RDV_CONTEXT_TIMEOUT_MS);
    cr_expect_null(o.job);
    cr_expect_null(o.hooks);
}

Test(options, coll_defaults)
{
    rdv_coll_options o = rdv_coll_options_default();

    cr_expect_eq(o.struct_size, sizeof o);
    cr_expect_eq(o.timeout_ms, RDV_TIMEOUT_DEFAULT);
    cr_expect_eq(o.algo, RDV_ALGO_AUTO);
    cr_expect_eq(o.busy_poll, 0);
}

/* init never writes past the size it is given, and zeroes what it does
 * not know. */
Test(options, init_writes_the_callers_size)
{
    _Alignas(rdv_context_options) unsigned char
        buf[sizeof(rdv_context_options) + 32];
    uint32_t size;

    memset(buf, 0xaa, sizeof buf);
    rdv_context_options_init((rdv_context_options *)buf, 12);
    memcpy(&size, buf, sizeof size);
    cr_expect_eq(size, 12);
    for (size_t i = 12; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0xaa, "byte %zu written", i);
    memset(buf, 0xaa, sizeof buf);
    rdv_coll_options_init((rdv_coll_options *)buf, sizeof buf);
    memcpy(&size, buf, sizeof size);
    cr_expect_eq(size, sizeof buf);
    for (size_t i = sizeof(rdv_coll_options); i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0, "byte %zu not zeroed", i);
}

static void expect_create_refused(uint32_t size, const char *words)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[256] = "";

    o.struct_size = size;
    cr_expect_eq(rdv_context_create(&o, &ctx, err, sizeof err), RDV_EINVAL,
                 "struct_size %u taken", (unsigned)size);
    cr_expect_null(ctx);
    cr_expect(strstr(err, words) && strstr(err, "rdv_context_options") &&
                  strstr(err, "rdv_context_options_default()"),
              "\"%s\" lacks \"%s\"", err, words);
}

Test(options, context_bad_sizes_are_einval)
{
    expect_create_refused(0, "struct_size is 0");
    expect_create_refused(4, "first version");
    expect_create_refused(0xdeadbeef, "not a size");
}

/* The budget a context of size ranks gets from handshake_ms. */
static int handshake_of(int size, int handshake_ms)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[256] = "";
    int ms;

    o.size = size;
    o.handshake_ms = handshake_ms;
    cr_assert_eq(rdv_context_create(&o, &ctx, err, sizeof err), RDV_OK,
                 "%s", err);
    ms = rdv_context_handshake_ms(ctx);
    rdv_context_destroy(ctx);
    return ms;
}

/* 0 is the default, which grows with the size past 250 ranks; a value
 * given is kept at every size. */
Test(options, handshake_budget_default_grows_with_size)
{
    cr_expect_eq(handshake_of(2, 0), RDV_CONTEXT_HANDSHAKE_MS);
    cr_expect_eq(handshake_of(250, 0), RDV_CONTEXT_HANDSHAKE_MS);
    cr_expect_eq(handshake_of(251, 0), 251);
    cr_expect_eq(handshake_of(1024, 0), 1024);
    cr_expect_eq(handshake_of(1024, 100), 100);
    cr_expect_eq(handshake_of(1024, -1), -1);
}

/* A caller built against a newer header: our struct, then more. */
typedef struct newer_context_options {
    rdv_context_options o;
    int later_field;
} newer_context_options;

Test(options, context_newer_caller)
{
    newer_context_options n;
    rdv_context *ctx = NULL;
    char err[256] = "";

    rdv_context_options_init(&n.o, sizeof n);
    n.o.rank = 1;
    n.o.size = 2;
    cr_expect_eq(n.later_field, 0);
    cr_expect_eq(rdv_context_create(&n.o, &ctx, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_expect_eq(rdv_context_rank(ctx), 1);
    rdv_context_destroy(ctx);
    ctx = NULL;
    n.later_field = 5;
    cr_expect_eq(rdv_context_create(&n.o, &ctx, err, sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "sets fields past"), "%s", err);
}

static rdv_context *solo(void)
{
    rdv_context *ctx = ranks_solo(RDV_TIMEOUT_DEFAULT);

    cr_assert_not_null(ctx);
    return ctx;
}

static void expect_barrier_refused(uint32_t size, const char *words)
{
    rdv_coll_options o = rdv_coll_options_default();
    rdv_context *ctx = solo();

    o.struct_size = size;
    cr_expect_eq(rdv_barrier(ctx, &o), RDV_EINVAL);
    cr_expect(strstr(rdv_context_errmsg(ctx), "barrier: rdv_coll_options") &&
                  strstr(rdv_context_errmsg(ctx), words),
              "\"%s\" lacks \"%s\"", rdv_context_errmsg(ctx), words);
    /* like any argument error: the peers may be inside the call */
    cr_expect_eq(rdv_barrier(ctx, NULL), RDV_ESTATE);
    rdv_context_destroy(ctx);
}

Test(options, coll_bad_sizes_are_einval)
{
    expect_barrier_refused(0, "struct_size is 0");
    expect_barrier_refused(2, "first version");
    expect_barrier_refused(1u << 30, "not a size");
}

typedef struct newer_coll_options {
    rdv_coll_options o;
    long later_field;
} newer_coll_options;

Test(options, coll_newer_caller)
{
    newer_coll_options n;
    rdv_context *ctx = solo();

    rdv_coll_options_init(&n.o, sizeof n);
    cr_expect_eq(rdv_barrier(ctx, &n.o), RDV_OK, "%s",
                 rdv_context_errmsg(ctx));
    n.later_field = 1;
    cr_expect_eq(rdv_barrier(ctx, &n.o), RDV_EINVAL);
    cr_expect(strstr(rdv_context_errmsg(ctx), "sets fields past"), "%s",
              rdv_context_errmsg(ctx));
    rdv_context_destroy(ctx);
}

/* Version 2 of a toy struct appended `c`; version 1 ended after `b`. */
typedef struct toy {
    uint32_t struct_size;
    int a, b;
    int c;
} toy;

Test(options, older_caller_keeps_the_new_defaults)
{
    toy defaults = {.a = 1, .b = 2, .c = 3}, dst, older = {0};
    size_t v1 = offsetof(toy, c);
    char err[256] = "";

    rdv_options_fill(&dst, sizeof dst, &defaults, sizeof defaults);
    cr_expect_eq(dst.struct_size, sizeof dst);
    older.struct_size = (uint32_t)v1;
    older.a = 10;
    older.b = 20;
    older.c = 99; /* past its struct_size: never read */
    cr_assert_eq(rdv_options_take(&dst, sizeof dst, &older, v1, "toy", err,
                                  sizeof err),
                 RDV_OK, "%s", err);
    cr_expect_eq(dst.a, 10);
    cr_expect_eq(dst.b, 20);
    cr_expect_eq(dst.c, 3);
    cr_expect_eq(dst.struct_size, sizeof dst);
    older.struct_size = (uint32_t)v1 - 1;
    cr_expect_eq(rdv_options_take(&dst, sizeof dst, &older, v1, "toy", err,
                                  sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "toy.struct_size is 11, less than the 12 bytes"),
              "%s", err);
}
