/*
 * tests/ref/stores/exec/test_exec_proto.c - the exec protocol's codec on
 * plain buffers: requests encode to the bytes EXEC_PROTOCOL.md gives,
 * replies decode whatever the split of the bytes fed, and every bad
 * reply (wrong type, a length over its limit, a NUL in a key, a count
 * that differs from the request's, a flag that is not 0 or 1) is
 * RDV_EPROTO with a reason, caught before anything is allocated for it.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "exec_proto.h"
#include "rdv/status.h"

/* A reply under construction. */
typedef struct buf {
    unsigned char b[4096];
    size_t n;
} buf;

static void b_u8(buf *b, unsigned v)
{
    b->b[b->n++] = (unsigned char)v;
}

static void b_u32(buf *b, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        b_u8(b, (v >> (8 * i)) & 0xff);
}

static void b_i64(buf *b, int64_t v)
{
    b_u32(b, (uint32_t)((uint64_t)v >> 32));
    b_u32(b, (uint32_t)v);
}

static void b_bytes(buf *b, const void *p, uint32_t n)
{
    b_u32(b, n);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void b_str(buf *b, const char *s)
{
    b_bytes(b, s, (uint32_t)strlen(s));
}

/* Starts b over with a reply header: the type and the status. */
static void b_head(buf *b, int type, int32_t status)
{
    b->n = 0;
    b_u8(b, (unsigned)type);
    b_u32(b, (uint32_t)status);
}

/* Feeds b to a parser for type t in pieces of step bytes. */
static int feed(rdv_exec_parser *p, int t, uint32_t n, const buf *b,
                size_t step)
{
    int rc = 0;

    rdv_exec_parser_init(p, t, n);
    for (size_t at = 0; at < b->n && rc == 0; at += step) {
        size_t len = b->n - at < step ? b->n - at : step, used;

        rc = rdv_exec_parser_feed(p, b->b + at, len, &used);
        if (rc == 1)
            cr_assert_eq(at + used, b->n, "the reply ended early");
    }
    return rc;
}

/* The request's bytes, joined from its iovecs. */
static size_t flatten(const rdv_exec_req *r, unsigned char *out, size_t cap)
{
    size_t n, len = 0;
    struct iovec *iov = rdv_exec_req_iov(r, &n);

    cr_assert_not_null(iov);
    for (size_t i = 0; i < n; i++) {
        cr_assert_leq(len + iov[i].iov_len, cap);
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    free(iov);
    return len;
}

Test(exec_proto, set_request_bytes)
{
    static const unsigned char want[] = {
        2, 0, 0, 0, 3, 'k', 0x01, 0xff, 0, 0, 0, 1, 0, 0, 0, 2, 'v', 0};
    rdv_exec_req r = {0};
    unsigned char out[64];

    rdv_exec_req_begin(&r, RDV_EXEC_SET);
    rdv_exec_req_bytes(&r, "k\x01\xff", 3);
    rdv_exec_req_u32(&r, 1);
    rdv_exec_req_bytes(&r, "v", 2); /* a NUL inside a value is data */
    cr_assert_eq(flatten(&r, out, sizeof out), sizeof want);
    cr_assert_arr_eq(out, want, sizeof want);
    rdv_exec_req_free(&r);
}

Test(exec_proto, long_values_are_referenced_and_timeout_patched)
{
    size_t vlen = 100000, n;
    char *v = malloc(vlen);
    rdv_exec_req r = {0};
    unsigned char *out = malloc(vlen + 64);
    struct iovec *iov;
    size_t len;

    memset(v, 'x', vlen);
    rdv_exec_req_begin(&r, RDV_EXEC_GET);
    rdv_exec_req_bytes(&r, v, vlen);
    rdv_exec_req_timeout_slot(&r);
    rdv_exec_req_timeout(&r, 300);
    iov = rdv_exec_req_iov(&r, &n);
    cr_assert_eq(n, 3, "header, the value by reference, the timeout");
    cr_assert_eq(iov[1].iov_base, v, "a long value is not copied");
    free(iov);
    len = flatten(&r, out, vlen + 64);
    cr_assert_eq(len, 1 + 4 + vlen + 8);
    cr_assert_eq(out[len - 1], 44); /* 300 = 0x012c */
    cr_assert_eq(out[len - 2], 1);
    rdv_exec_req_free(&r);
    free(out);
    free(v);
}

Test(exec_proto, get_reply_in_any_split)
{
    buf b = {.n = 0};
    rdv_exec_parser p;

    b_head(&b, RDV_EXEC_GET, 0);
    b_bytes(&b, "va\0ue", 5);
    for (size_t step = 1; step <= b.n; step++) {
        cr_assert_eq(feed(&p, RDV_EXEC_GET, 0, &b, step), 1, "step %zu",
                     step);
        cr_assert_eq(p.reply.status, 0);
        cr_assert_eq(p.reply.value_len, 5);
        cr_assert_eq(memcmp(p.reply.value, "va\0ue\0", 6), 0,
                     "the value, NUL-terminated one past its length");
        rdv_exec_parser_free(&p);
    }
}

Test(exec_proto, error_reply_carries_status_and_message)
{
    buf b = {.n = 0};
    rdv_exec_parser p;

    b_head(&b, RDV_EXEC_WAIT, RDV_ETIMEDOUT);
    b_str(&b, "wait timed out: 1 of 2 keys missing: b");
    cr_assert_eq(feed(&p, RDV_EXEC_WAIT, 0, &b, 3), 1);
    cr_assert_eq(p.reply.status, RDV_ETIMEDOUT);
    cr_assert_str_eq(p.reply.msg, "wait timed out: 1 of 2 keys missing: b");
    rdv_exec_parser_free(&p);
}

Test(exec_proto, compare_set_add_and_list_replies)
{
    buf b = {.n = 0};
    rdv_exec_parser p;

    b_head(&b, RDV_EXEC_COMPARE_SET, 0);
    b_u8(&b, 0);
    b_u8(&b, 1);
    b_str(&b, "now");
    cr_assert_eq(feed(&p, RDV_EXEC_COMPARE_SET, 0, &b, 2), 1);
    cr_assert(!p.reply.won && p.reply.present);
    cr_assert_str_eq(p.reply.value, "now");
    rdv_exec_parser_free(&p);

    b_head(&b, RDV_EXEC_ADD, 0);
    b_i64(&b, -42);
    cr_assert_eq(feed(&p, RDV_EXEC_ADD, 0, &b, 1), 1);
    cr_assert_eq(p.reply.num, -42);
    rdv_exec_parser_free(&p);

    b_head(&b, RDV_EXEC_LIST, 0);
    b_u32(&b, 3);
    b_str(&b, "a");
    b_str(&b, "b/\xff");
    b_str(&b, "c");
    cr_assert_eq(feed(&p, RDV_EXEC_LIST, 0, &b, 5), 1);
    cr_assert_eq(p.reply.nitems, 3);
    cr_assert_str_eq(p.reply.items[1], "b/\xff");
    rdv_exec_parser_free(&p);
}

Test(exec_proto, hello_reply_pairs)
{
    buf b = {.n = 0};
    rdv_exec_parser p;

    b_head(&b, RDV_EXEC_HELLO, 0);
    b_str(&b, RDV_EXEC_MAGIC);
    b_u32(&b, 1);
    b_u32(&b, 2);
    b_str(&b, "level");
    b_str(&b, "gloo");
    b_str(&b, "ops");
    b_str(&b, "set,get,wait");
    cr_assert_eq(feed(&p, RDV_EXEC_HELLO, 0, &b, 7), 1);
    cr_assert_eq(p.reply.version, 1);
    cr_assert_eq(p.reply.nitems, 4);
    cr_assert_str_eq(p.reply.items[3], "set,get,wait");
    rdv_exec_parser_free(&p);
}

/* Feeds b whole and expects RDV_EPROTO with reason containing want. */
static void expect_proto(int t, uint32_t n, const buf *b, const char *want)
{
    rdv_exec_parser p;
    int rc = feed(&p, t, n, b, b->n);

    cr_assert_eq(rc, RDV_EPROTO, "rc %d, reason '%s'", rc, p.err);
    cr_assert(strstr(p.err, want), "reason '%s' lacks '%s'", p.err, want);
    rdv_exec_parser_free(&p);
}

Test(exec_proto, wrong_type_is_named_with_a_hint_for_text)
{
    buf b = {.n = 0};

    memcpy(b.b, "hello\n", 6);
    b.n = 6;
    expect_proto(RDV_EXEC_HELLO, 0, &b, "print to stdout");
    b_head(&b, RDV_EXEC_SET, 0);
    expect_proto(RDV_EXEC_GET, 0, &b, "has type 2, not 3");
}

Test(exec_proto, oversized_value_fails_before_allocation)
{
    buf b = {.n = 0};

    /* only the declared length arrives: the parser must refuse it now,
     * not wait for 64 MiB of bytes it would first have to allocate */
    b_head(&b, RDV_EXEC_GET, 0);
    b_u32(&b, 64u * 1024 * 1024 + 1);
    expect_proto(RDV_EXEC_GET, 0, &b, "67108865 bytes");
    b_head(&b, RDV_EXEC_GET, RDV_EIO);
    b_u32(&b, 0xffffffffu); /* a message of 4 GiB */
    expect_proto(RDV_EXEC_GET, 0, &b, "at most 65536");
}

Test(exec_proto, bad_keys_counts_and_flags)
{
    buf b = {.n = 0};

    b_head(&b, RDV_EXEC_LIST, 0);
    b_u32(&b, 1);
    b_bytes(&b, "a\0b", 3);
    expect_proto(RDV_EXEC_LIST, 0, &b, "holds a NUL");
    b_head(&b, RDV_EXEC_LIST, 0);
    b_u32(&b, 1);
    b_str(&b, "");
    expect_proto(RDV_EXEC_LIST, 0, &b, "is empty");
    b_head(&b, RDV_EXEC_MULTI_GET, 0);
    b_u32(&b, 3);
    expect_proto(RDV_EXEC_MULTI_GET, 2, &b, "3 values for 2 keys");
    b_head(&b, RDV_EXEC_COMPARE_SET, 0);
    b_u8(&b, 2);
    expect_proto(RDV_EXEC_COMPARE_SET, 0, &b, "for a flag");
    b_head(&b, RDV_EXEC_HELLO, 0);
    b_str(&b, "not-rdv!");
    expect_proto(RDV_EXEC_HELLO, 0, &b, "magic");
}

Test(exec_proto, a_lying_count_costs_no_memory_up_front)
{
    buf b = {.n = 0};
    rdv_exec_parser p;

    b_head(&b, RDV_EXEC_LIST, 0);
    b_u32(&b, 1u << 24); /* 16 M keys declared, one sent */
    b_str(&b, "only");
    cr_assert_eq(feed(&p, RDV_EXEC_LIST, 0, &b, b.n), 0, "needs more");
    cr_assert_eq(p.reply.nitems, 1);
    rdv_exec_parser_free(&p);
    b_head(&b, RDV_EXEC_LIST, 0);
    b_u32(&b, (1u << 24) + 1);
    expect_proto(RDV_EXEC_LIST, 0, &b, "declares 16777217 keys");
}

Test(exec_proto, bytes_past_the_reply_are_left_alone)
{
    buf b = {.n = 0};
    rdv_exec_parser p;
    size_t used;

    b_head(&b, RDV_EXEC_SET, 0);
    b_u8(&b, 0x99);
    rdv_exec_parser_init(&p, RDV_EXEC_SET, 0);
    cr_assert_eq(rdv_exec_parser_feed(&p, b.b, b.n, &used), 1);
    cr_assert_eq(used, 5, "the extra byte is not part of the reply");
    rdv_exec_parser_free(&p);
}

Test(exec_proto, op_names_round_trip)
{
    for (int t = RDV_EXEC_SET; t < RDV_EXEC_TYPE_END; t++) {
        const char *name = rdv_exec_type_name(t);

        cr_assert_not_null(name);
        cr_assert_eq(rdv_exec_type_parse(name, strlen(name)), t);
    }
    cr_assert_null(rdv_exec_type_name(RDV_EXEC_HELLO));
    cr_assert_eq(rdv_exec_type_parse("hello", 5), 0);
    cr_assert_eq(rdv_exec_type_parse("set,get", 3), RDV_EXEC_SET);
}

/* Found by tests/fuzz/fuzz_exec_reply.c: a 9-byte reply declaring a
 * 64 MiB value made the parser allocate all of it before one byte came.
 * Memory now follows the bytes that arrive, and a value that does come
 * whole, in pieces, is intact. */
Test(exec_proto, a_declared_length_alone_allocates_little)
{
    const size_t big = 64u * 1024 * 1024;
    unsigned char *value = malloc(big), *piece = malloc(1u << 20);
    buf b = {.n = 0};
    rdv_exec_parser p;
    size_t used;

    cr_assert(value && piece);
    for (size_t i = 0; i < big; i++)
        value[i] = (unsigned char)(i * 131 + (i >> 20));
    b_head(&b, RDV_EXEC_GET, 0);
    b_u32(&b, (uint32_t)big);
    rdv_exec_parser_init(&p, RDV_EXEC_GET, 0);
    cr_assert_eq(rdv_exec_parser_feed(&p, b.b, b.n, &used), 0);
    cr_assert_leq(p.dest_cap, RDV_EXEC_FIRST_ALLOC,
                  "a length alone allocated %zu bytes", p.dest_cap);
    for (size_t off = 0; off < big; off += 1u << 20) {
        memcpy(piece, value + off, 1u << 20);
        cr_assert_eq(rdv_exec_parser_feed(&p, piece, 1u << 20, &used),
                     off + (1u << 20) == big ? 1 : 0);
        cr_assert_leq(p.dest_cap, 2 * (off + (1u << 20)) + 1,
                      "%zu bytes allocated after %zu came", p.dest_cap,
                      off + (1u << 20));
    }
    cr_assert_eq(p.reply.value_len, big);
    cr_assert(memcmp(p.reply.value, value, big) == 0, "the value changed");
    cr_assert_eq(((unsigned char *)p.reply.value)[big], 0);
    rdv_exec_parser_free(&p);
    free(piece);
    free(value);
}
