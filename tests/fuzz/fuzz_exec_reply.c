/*
 * tests/fuzz/fuzz_exec_reply.c - the exec store's reply parser
 * (stores/exec_proto.c), which reads whatever an adapter program writes
 * to its stdout: any language, any bug, maybe a stray print.
 *
 * Input: byte 0 picks the request type the reply answers, byte 1 the
 * key count of a multi_get, byte 2 how the bytes are split; the rest is
 * what the adapter wrote.
 *
 * Properties: the parse does not depend on how the bytes arrive (all at
 * once, or in pieces of the sizes byte 2 gives: the same outcome, the
 * same bytes used, the same reply); a complete reply has every string
 * NUL-terminated, its type, and as many multi_get values as keys asked;
 * a failure is RDV_EPROTO (or RDV_ENOMEM) with a reason.
 */
#include "fuzz.h"
#include "rdv/status.h"
#include "stores/exec_proto.h"

typedef struct outcome {
    int rc;
    size_t used;
} outcome;

/* Feeds len bytes in pieces whose sizes come from split (0: at once). */
static outcome feed(rdv_exec_parser *p, const uint8_t *d, size_t len,
                    unsigned split)
{
    outcome o = {0, 0};
    size_t piece = split ? (split & 15) + 1 : len;

    while (o.rc == 0 && o.used < len) {
        size_t n = len - o.used < piece ? len - o.used : piece, used = 0;

        o.rc = rdv_exec_parser_feed(p, d + o.used, n, &used);
        FUZZ_CHECK(used <= n, "used %zu of %zu bytes", used, n);
        o.used += used;
        if (o.rc == 0)
            FUZZ_CHECK(used == n, "needs more but left %zu bytes",
                       n - used);
        piece = piece % 7 + 1 + (split >> 4); /* vary the piece sizes */
    }
    return o;
}

static int same_bytes(const void *a, size_t alen, const void *b,
                      size_t blen)
{
    if (!a || !b)
        return !a && !b && alen == blen;
    return alen == blen && memcmp(a, b, alen) == 0;
}

static void check_reply(const rdv_exec_reply *r, int type, uint32_t n)
{
    FUZZ_CHECK(r->type == type, "reply type %d for a request of type %d",
               r->type, type);
    if (r->msg)
        FUZZ_CHECK(r->msg[r->msg_len] == '\0', "message not terminated");
    if (r->value)
        FUZZ_CHECK(((char *)r->value)[r->value_len] == '\0',
                   "value not terminated");
    for (size_t i = 0; i < r->nitems; i++)
        FUZZ_CHECK(((char *)r->items[i])[r->lens[i]] == '\0',
                   "item %zu not terminated", i);
    if (r->status == 0 && type == RDV_EXEC_MULTI_GET)
        FUZZ_CHECK(r->nitems == n, "%zu values for %u keys", r->nitems, n);
    if (r->status == 0 && type == RDV_EXEC_HELLO)
        FUZZ_CHECK(r->nitems % 2 == 0, "a hello with %zu items", r->nitems);
    if (r->status != 0)
        FUZZ_CHECK(r->msg != NULL, "a failure without its message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rdv_exec_parser a, b;
    outcome oa, ob;
    int type;
    uint32_t n;

    if (size < 3)
        return 0;
    type = 1 + data[0] % (RDV_EXEC_TYPE_END - 1);
    n = data[1] % 9;
    rdv_exec_parser_init(&a, type, n);
    rdv_exec_parser_init(&b, type, n);
    oa = feed(&a, data + 3, size - 3, 0);
    ob = feed(&b, data + 3, size - 3, data[2] | 1u);
    FUZZ_CHECK(oa.rc == ob.rc && oa.used == ob.used,
               "at once: %d after %zu bytes; in pieces: %d after %zu",
               oa.rc, oa.used, ob.rc, ob.used);
    if (oa.rc < 0) {
        FUZZ_CHECK((oa.rc == RDV_EPROTO || oa.rc == RDV_ENOMEM) &&
                       fuzz_msg_ok(a.err, sizeof a.err) &&
                       strcmp(a.err, b.err) == 0,
                   "failed with %d, '%s' / '%s'", oa.rc, a.err, b.err);
    } else if (oa.rc == 1) {
        const rdv_exec_reply *ra = &a.reply, *rb = &b.reply;

        check_reply(ra, type, n);
        FUZZ_CHECK(ra->status == rb->status && ra->num == rb->num &&
                       ra->version == rb->version && ra->won == rb->won &&
                       ra->present == rb->present &&
                       ra->nitems == rb->nitems &&
                       same_bytes(ra->msg, ra->msg_len, rb->msg,
                                  rb->msg_len) &&
                       same_bytes(ra->value, ra->value_len, rb->value,
                                  rb->value_len),
                   "the reply depends on how its bytes arrived");
        for (size_t i = 0; i < ra->nitems; i++)
            FUZZ_CHECK(same_bytes(ra->items[i], ra->lens[i], rb->items[i],
                                  rb->lens[i]),
                       "item %zu depends on how the bytes arrived", i);
    }
    rdv_exec_parser_free(&a);
    rdv_exec_parser_free(&b);
    return 0;
}
