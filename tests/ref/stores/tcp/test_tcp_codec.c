/*
 * test_tcp_codec.c - the tcp:// wire codec on its own (no sockets):
 * every request and reply round-trips, every prefix of a frame asks for
 * more, and malformed or mutated frames are refused with a reason,
 * never read out of bounds (ASan watches the mutation loop).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "stores/tcp_codec.h"

static size_t frame_set(rdv_tcp_buf *b, const char *key, const char *val,
                        uint32_t flags)
{
    size_t st = rdv_tcp_begin(b, RDV_TCP_SET, 42);

    rdv_tcp_put_u32(b, flags);
    rdv_tcp_put_bytes(b, key, strlen(key));
    rdv_tcp_put_bytes(b, val, strlen(val));
    rdv_tcp_end(b, st);
    return st;
}

static int decode(const rdv_tcp_buf *b, rdv_tcp_msg *m, char *why)
{
    size_t used;

    return rdv_tcp_decode(b->p, b->len, RDV_TCP_BODY_MAX, m, &used, why,
                          256);
}

Test(codec, set_round_trips)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_msg m;
    char why[256];
    size_t used;

    frame_set(&b, "job/addr/3", "value", RDV_SET_CREATE_ONLY);
    cr_assert_eq(rdv_tcp_decode(b.p, b.len, RDV_TCP_BODY_MAX, &m, &used, why,
                                sizeof why), RDV_OK, "%s", why);
    cr_assert_eq(used, b.len);
    cr_assert_eq(m.op, RDV_TCP_SET);
    cr_assert_eq(m.reply, 0);
    cr_assert_eq(m.id, 42);
    cr_assert_eq(m.set_flags, RDV_SET_CREATE_ONLY);
    cr_assert(m.key.len == 10 && memcmp(m.key.p, "job/addr/3", 10) == 0);
    cr_assert(m.value.len == 5 && memcmp(m.value.p, "value", 5) == 0);
    rdv_tcp_buf_free(&b);
}

Test(codec, key_lists_and_replies_round_trip)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_msg m;
    rdv_tcp_span items, k;
    char why[256];
    size_t st = rdv_tcp_begin(&b, RDV_TCP_MGET, 9);

    rdv_tcp_put_u64(&b, (uint64_t)-1);
    rdv_tcp_put_u32(&b, 3);
    rdv_tcp_put_bytes(&b, "a", 1);
    rdv_tcp_put_bytes(&b, "bb", 2);
    rdv_tcp_put_bytes(&b, "ccc", 3);
    rdv_tcp_end(&b, st);
    cr_assert_eq(decode(&b, &m, why), RDV_OK, "%s", why);
    cr_assert_eq(m.timeout_ns, -1);
    cr_assert_eq(m.count, 3);
    items = m.items;
    for (uint32_t i = 1; i <= 3; i++) {
        cr_assert(rdv_tcp_next(&items, &k));
        cr_assert_eq(k.len, i);
    }
    cr_assert_not(rdv_tcp_next(&items, &k));
    rdv_tcp_buf_free(&b);

    st = rdv_tcp_begin(&b, RDV_TCP_MGET | RDV_TCP_REPLY, 9);
    rdv_tcp_put_u32(&b, (uint32_t)RDV_ETIMEDOUT);
    rdv_tcp_put_bytes(&b, "\1\0\1", 3);
    rdv_tcp_end(&b, st);
    cr_assert_eq(decode(&b, &m, why), RDV_OK, "%s", why);
    cr_assert(m.reply);
    cr_assert_eq(m.status, RDV_ETIMEDOUT);
    cr_assert_eq(m.present.len, 3);
    cr_assert_eq(m.present.p[1], 0);
    rdv_tcp_buf_free(&b);

    st = rdv_tcp_begin(&b, RDV_TCP_CAS | RDV_TCP_REPLY, 5);
    rdv_tcp_put_u32(&b, RDV_OK);
    rdv_tcp_put_u8(&b, 1);
    rdv_tcp_put_u8(&b, 1);
    rdv_tcp_put_bytes(&b, "now", 3);
    rdv_tcp_end(&b, st);
    cr_assert_eq(decode(&b, &m, why), RDV_OK, "%s", why);
    cr_assert(m.won && m.has_value && m.value.len == 3);
    rdv_tcp_buf_free(&b);
}

Test(codec, every_prefix_asks_for_more)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_msg m;
    char why[256];
    size_t used;

    frame_set(&b, "key", "a value of some length", 0);
    for (size_t n = 0; n < b.len; n++) {
        cr_assert_eq(rdv_tcp_decode(b.p, n, RDV_TCP_BODY_MAX, &m, &used, why,
                                    sizeof why),
                     RDV_TCP_NEED_MORE, "prefix of %zu bytes", n);
        cr_assert_eq(used, n < RDV_TCP_HDR ? 0 : b.len,
                     "the frame's size is known once the header is in");
    }
    rdv_tcp_buf_free(&b);
}

/* Decoding must fail with a reason that contains want. */
static void expect_bad(const rdv_tcp_buf *b, uint32_t max, const char *want)
{
    rdv_tcp_msg m;
    char why[256] = "";
    size_t used;

    cr_assert_eq(rdv_tcp_decode(b->p, b->len, max, &m, &used, why,
                                sizeof why), RDV_EPROTO,
                 "accepted; want '%s'", want);
    cr_assert(strstr(why, want), "reason '%s', want '%s'", why, want);
}

Test(codec, malformed_frames_say_why)
{
    rdv_tcp_buf b = {0};
    size_t st;

    frame_set(&b, "k", "v", 0);
    b.p[0] = 0x7f; /* no such kind */
    expect_bad(&b, RDV_TCP_BODY_MAX, "no frame");
    rdv_tcp_buf_free(&b);

    frame_set(&b, "k", "v", 0);
    expect_bad(&b, 4, "exceeds the 4-byte limit");
    rdv_tcp_buf_free(&b);

    frame_set(&b, "", "v", 0);
    expect_bad(&b, RDV_TCP_BODY_MAX, "key is empty");
    rdv_tcp_buf_free(&b);

    st = rdv_tcp_begin(&b, RDV_TCP_SET, 1);
    rdv_tcp_put_u32(&b, 0);
    rdv_tcp_put_bytes(&b, "a\0b", 3);
    rdv_tcp_put_bytes(&b, "v", 1);
    rdv_tcp_end(&b, st);
    expect_bad(&b, RDV_TCP_BODY_MAX, "holds NUL");
    rdv_tcp_buf_free(&b);

    frame_set(&b, "k", "v", 0x80);
    expect_bad(&b, RDV_TCP_BODY_MAX, "unknown flags");
    rdv_tcp_buf_free(&b);

    st = rdv_tcp_begin(&b, RDV_TCP_DEL, 1);
    rdv_tcp_put_bytes(&b, "k", 1);
    rdv_tcp_put_u8(&b, 0);
    rdv_tcp_end(&b, st);
    expect_bad(&b, RDV_TCP_BODY_MAX, "left over");
    rdv_tcp_buf_free(&b);

    st = rdv_tcp_begin(&b, RDV_TCP_WAIT, 1);
    rdv_tcp_put_u64(&b, 0);
    rdv_tcp_put_u32(&b, 1000000); /* far more keys than bytes */
    rdv_tcp_put_bytes(&b, "k", 1);
    rdv_tcp_end(&b, st);
    expect_bad(&b, RDV_TCP_BODY_MAX, "ends early");
    rdv_tcp_buf_free(&b);

    st = rdv_tcp_begin(&b, RDV_TCP_GET | RDV_TCP_REPLY, 1);
    rdv_tcp_put_u32(&b, (uint32_t)-999);
    rdv_tcp_end(&b, st);
    expect_bad(&b, RDV_TCP_BODY_MAX, "status is unknown");
    rdv_tcp_buf_free(&b);
}

/* Random mutations of valid frames: every one decodes or is refused,
 * within bounds. */
Test(codec, mutated_frames_never_read_out_of_bounds)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    rdv_tcp_buf b = {0};
    rdv_tcp_msg m;
    char why[256];
    size_t st, used;
    int ok = 0, bad = 0, more = 0;

    st = rdv_tcp_begin(&b, RDV_TCP_MSET, 1);
    rdv_tcp_put_u32(&b, 2);
    rdv_tcp_put_bytes(&b, "key1", 4);
    rdv_tcp_put_bytes(&b, "value1", 6);
    rdv_tcp_put_bytes(&b, "key2", 4);
    rdv_tcp_put_bytes(&b, "", 0);
    rdv_tcp_end(&b, st);
    for (int round = 0; round < 20000; round++) {
        unsigned char *copy = malloc(b.len);
        size_t len = b.len;
        int rc;

        memcpy(copy, b.p, b.len);
        for (int flips = 0; flips < 3; flips++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            copy[x % len] = (unsigned char)(x >> 32);
        }
        len -= (x >> 40) % 3 == 0 ? (x >> 48) % len : 0;
        rc = rdv_tcp_decode(copy, len, RDV_TCP_BODY_MAX, &m, &used, why,
                            sizeof why);
        if (rc == RDV_OK) {
            rdv_tcp_span items = m.items, k;

            while (rdv_tcp_next(&items, &k))
                cr_assert(k.p >= copy && k.p + k.len <= copy + len);
        }
        ok += rc == RDV_OK;
        bad += rc == RDV_EPROTO;
        more += rc == RDV_TCP_NEED_MORE;
        cr_assert(rc == RDV_OK || rc == RDV_EPROTO || rc == RDV_TCP_NEED_MORE);
        free(copy);
    }
    cr_assert_gt(ok, 0, "no mutation decoded");
    cr_assert_gt(bad, 0, "no mutation was refused");
    cr_assert_gt(more, 0, "no cut frame asked for more");
    rdv_tcp_buf_free(&b);
}
