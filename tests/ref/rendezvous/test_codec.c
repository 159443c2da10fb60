/*
 * test_codec.c - the record and handshake codec on its own: round
 * trips, every truncation and every single-bit flip refused with a
 * reason, and a deterministic fuzz feeding random bytes and mutated
 * messages to both decoders (run it under ASan or valgrind to catch any
 * read past the input).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/status.h"
#include "rendezvous/codec.h"

static rdv_record sample(void)
{
    rdv_record r;

    memset(&r, 0, sizeof r);
    r.rank = 3;
    r.size = 8;
    r.family = AF_INET;
    r.port = 40123;
    r.addr[0] = 127;
    r.addr[3] = 1;
    r.pid = 4242;
    r.nonce = 0x1122334455667788ull;
    r.token = rdv_job_token("job7");
    snprintf(r.hostname, sizeof r.hostname, "node-17");
    return r;
}

Test(codec, record_round_trip)
{
    rdv_record in = sample(), out;
    uint8_t buf[RDV_RECORD_SIZE];
    char why[128];

    rdv_record_encode(&in, buf);
    cr_assert_eq(rdv_record_decode(buf, sizeof buf, &out, why, sizeof why),
                 RDV_OK, "%s", why);
    cr_expect_eq(memcmp(&in, &out, sizeof in), 0);
    cr_expect_eq(rdv_record_check(&out, 3, 8, in.token, why, sizeof why),
                 RDV_OK);
    cr_expect_eq(rdv_record_check(&out, 4, 8, in.token, why, sizeof why),
                 RDV_EPROTO);
    cr_expect(strstr(why, "rank 4") && strstr(why, "rank 3"), "%s", why);
    cr_expect_eq(rdv_record_check(&out, 3, 9, in.token, why, sizeof why),
                 RDV_EPROTO);
    cr_expect_eq(rdv_record_check(&out, 3, 8, in.token + 1, why, sizeof why),
                 RDV_EPROTO);
}

Test(codec, record_truncations_and_flips_refused)
{
    rdv_record in = sample(), out;
    uint8_t buf[RDV_RECORD_SIZE + 1], bad[RDV_RECORD_SIZE];
    char why[128];

    rdv_record_encode(&in, buf);
    for (size_t len = 0; len <= sizeof buf; len++) {
        if (len == RDV_RECORD_SIZE)
            continue;
        why[0] = 0;
        cr_expect_eq(rdv_record_decode(buf, len, &out, why, sizeof why),
                     RDV_EPROTO, "len %zu", len);
        cr_expect_neq(why[0], 0);
    }
    for (size_t bit = 0; bit < RDV_RECORD_SIZE * 8; bit++) {
        memcpy(bad, buf, sizeof bad);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_expect_eq(rdv_record_decode(bad, sizeof bad, &out, why, sizeof why),
                     RDV_EPROTO, "bit %zu", bit);
    }
}

Test(codec, hello_round_trip_and_flips)
{
    rdv_hello in = {.kind = RDV_HELLO_CONNECT, .rank = 5, .size = 6,
                    .token = 99, .nonce = 12345}, out;
    uint8_t buf[RDV_HELLO_SIZE], bad[RDV_HELLO_SIZE];
    char why[128];

    rdv_hello_encode(&in, buf);
    cr_assert_eq(rdv_hello_decode(buf, sizeof buf, &out, why, sizeof why),
                 RDV_OK, "%s", why);
    cr_expect(out.kind == in.kind && out.rank == in.rank &&
              out.size == in.size && out.token == in.token &&
              out.nonce == in.nonce);
    for (size_t len = 0; len < sizeof buf; len++)
        cr_expect_eq(rdv_hello_decode(buf, len, &out, why, sizeof why),
                     RDV_EPROTO);
    for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
        memcpy(bad, buf, sizeof bad);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_expect_eq(rdv_hello_decode(bad, sizeof bad, &out, why, sizeof why),
                     RDV_EPROTO, "bit %zu", bit);
    }
    in.rank = 6; /* rank >= size is refused even when well-formed */
    rdv_hello_encode(&in, buf);
    cr_expect_eq(rdv_hello_decode(buf, sizeof buf, &out, why, sizeof why),
                 RDV_EPROTO);
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(codec, fuzz_random_bytes)
{
    uint64_t seed = 0x5eed5eed5eedull;
    rdv_record rec;
    rdv_hello h;
    char why[128];

    int iters = getenv("RDV_TEST_QUICK") ? 2000 : 20000;

    for (int it = 0; it < iters; it++) {
        size_t len = (size_t)(next(&seed) % (RDV_RECORD_SIZE + 8));
        uint8_t *buf = malloc(len ? len : 1); /* exact size: ASan sees overreads */

        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)next(&seed);
        /* a random input must be refused (the checksum makes a pass
         * astronomically unlikely) and never crash */
        cr_expect_eq(rdv_record_decode(buf, len, &rec, why, sizeof why),
                     RDV_EPROTO);
        cr_expect_eq(rdv_hello_decode(buf, len, &h, why, sizeof why),
                     RDV_EPROTO);
        free(buf);
    }
}

Test(codec, fuzz_encoded_fields)
{
    uint64_t seed = 42;
    uint8_t buf[RDV_RECORD_SIZE];
    char why[128];

    /* whatever the fields, encode then decode either round-trips or is
     * refused with a reason; printable hostnames always round-trip */
    for (int it = 0; it < 5000; it++) {
        rdv_record in, out;

        memset(&in, 0, sizeof in);
        in.size = (uint32_t)(next(&seed) % 70000);
        in.rank = (uint32_t)(next(&seed) % 70000);
        in.family = next(&seed) & 1 ? AF_INET6 : AF_INET;
        in.port = (uint16_t)next(&seed);
        in.nonce = next(&seed);
        in.token = next(&seed);
        for (int i = 0; i < (int)(next(&seed) % RDV_HOSTNAME_MAX); i++)
            in.hostname[i] = (char)(0x21 + next(&seed) % 94);
        rdv_record_encode(&in, buf);
        why[0] = 0;
        int ret = rdv_record_decode(buf, sizeof buf, &out, why, sizeof why);
        int valid = in.port != 0 && in.size != 0 && in.rank < in.size;
        cr_expect_eq(ret, valid ? RDV_OK : RDV_EPROTO, "it %d: %s", it, why);
        if (ret == RDV_OK)
            cr_expect_str_eq(out.hostname, in.hostname);
        else
            cr_expect_neq(why[0], 0);
    }
}
