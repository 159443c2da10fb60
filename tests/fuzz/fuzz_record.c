/*
 * tests/fuzz/fuzz_record.c - the rendezvous codec (rendezvous/codec.c):
 * the address record every rank reads from the store, which anyone with
 * the store can write, and the handshake hello, which anyone who can
 * reach a rank's listening port can send.
 *
 * The first byte steers: bit 0 picks the hello over the record; bit 1
 * stamps the magic and version; bit 2 seals the checksum. Without them
 * the fuzzer would spend its time on the first eight bytes and the FNV
 * checksum, never on the fields behind them. The rest is the message.
 *
 * Properties: a decoded message re-encodes to bytes that decode to the
 * same message; a refusal is RDV_EPROTO with a reason; a decoded record
 * has a rank below its size, a port, a known family and a printable
 * hostname, and rdv_record_check and rdv_record_sockaddr agree with it.
 */
#include <netinet/in.h>

#include "fuzz.h"
#include "fnv.h"
#include "rendezvous/codec.h"
#include "rdv/status.h"

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Applies the steering bits to a message of exactly its format's size. */
static void steer(uint8_t *m, size_t len, size_t want, uint32_t magic,
                  unsigned mode)
{
    if (len != want)
        return;
    if (mode & 2) {
        put_le(m, magic, 4);
        put_le(m + 4, RDV_RECORD_VERSION, 2);
    }
    if (mode & 4)
        put_le(m + want - 8, rdv_fnv1a(RDV_FNV1A_BASIS, m, want - 8), 8);
}

/* addr_len: 16, or 4 to compare only what an IPv4 sockaddr carries (an
 * IPv4 record's other 12 address bytes mean nothing). */
static int same_record(const rdv_record *a, const rdv_record *b,
                       size_t addr_len)
{
    return a->rank == b->rank && a->size == b->size &&
           a->family == b->family && a->port == b->port &&
           memcmp(a->addr, b->addr, addr_len) == 0 &&
           a->pid == b->pid && a->nonce == b->nonce &&
           a->token == b->token && strcmp(a->hostname, b->hostname) == 0;
}

static void fuzz_record(uint8_t *m, size_t len)
{
    uint8_t again[RDV_RECORD_SIZE];
    rdv_record r, back;
    struct sockaddr_storage ss;
    char why[256] = "";
    int rc = rdv_record_decode(m, len, &r, why, sizeof why);

    if (rc != RDV_OK) {
        FUZZ_CHECK(rc == RDV_EPROTO && fuzz_msg_ok(why, sizeof why),
                   "record refused with %d, reason '%s'", rc, why);
        return;
    }
    FUZZ_CHECK(len == RDV_RECORD_SIZE, "a %zu-byte record decoded", len);
    FUZZ_CHECK(r.size > 0 && r.rank < r.size && r.port != 0 &&
                   (r.family == AF_INET || r.family == AF_INET6),
               "decoded record rank %u size %u port %u family %u", r.rank,
               r.size, r.port, r.family);
    for (const char *c = r.hostname; *c; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f,
                   "hostname byte 0x%02x", (unsigned char)*c);
    rdv_record_encode(&r, again);
    FUZZ_CHECK(rdv_record_decode(again, sizeof again, &back, why,
                                 sizeof why) == RDV_OK,
               "a re-encoded record fails: %s", why);
    FUZZ_CHECK(same_record(&r, &back, 16), "a record changes in a round trip");
    FUZZ_CHECK(rdv_record_check(&r, r.rank, r.size, r.token, why,
                                sizeof why) == RDV_OK,
               "a record fails the check of its own fields: %s", why);
    FUZZ_CHECK(rdv_record_check(&r, r.rank + 1, r.size, r.token, why,
                                sizeof why) == RDV_EPROTO &&
                   fuzz_msg_ok(why, sizeof why),
               "a record passes under another rank's key");
    rdv_record_sockaddr(&r, &ss);
    back = r;
    FUZZ_CHECK(rdv_record_set_addr(&back, &ss) == RDV_OK &&
                   same_record(&r, &back, r.family == AF_INET ? 4 : 16),
               "the record's sockaddr does not give its address back");
}

static void fuzz_hello(uint8_t *m, size_t len)
{
    uint8_t again[RDV_HELLO_SIZE];
    rdv_hello h, back;
    char why[256] = "";
    int rc = rdv_hello_decode(m, len, &h, why, sizeof why);

    if (rc != RDV_OK) {
        FUZZ_CHECK(rc == RDV_EPROTO && fuzz_msg_ok(why, sizeof why),
                   "hello refused with %d, reason '%s'", rc, why);
        return;
    }
    FUZZ_CHECK(len == RDV_HELLO_SIZE, "a %zu-byte hello decoded", len);
    rdv_hello_encode(&h, again);
    FUZZ_CHECK(rdv_hello_decode(again, sizeof again, &back, why,
                                sizeof why) == RDV_OK,
               "a re-encoded hello fails: %s", why);
    FUZZ_CHECK(h.kind == back.kind && h.rank == back.rank &&
                   h.size == back.size && h.token == back.token &&
                   h.nonce == back.nonce,
               "a hello changes in a round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode;
    uint8_t *m;
    size_t len;

    if (size == 0)
        return 0;
    mode = data[0];
    len = size - 1;
    m = malloc(len ? len : 1); /* exact size: ASan sees any overread */
    if (!m)
        abort();
    memcpy(m, data + 1, len);
    if (mode & 1) {
        steer(m, len, RDV_HELLO_SIZE, 0x48564452u, mode);
        fuzz_hello(m, len);
    } else {
        steer(m, len, RDV_RECORD_SIZE, 0x52564452u, mode);
        fuzz_record(m, len);
    }
    free(m);
    return 0;
}
