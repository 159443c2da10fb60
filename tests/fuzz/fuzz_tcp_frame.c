/*
 * tests/fuzz/fuzz_tcp_frame.c - the tcp:// store's wire format
 * (stores/tcp_codec.c): the server decodes every request a client on its
 * port sends with it, and the client every reply.
 *
 * The first byte picks the body limit the decoder is given (a small
 * server limit or RDV_TCP_BODY_MAX); the rest is a stream of frames,
 * decoded one after another as a connection would.
 *
 * Properties: a decoded frame used between a header and the whole input;
 * its lists hold exactly count entries; it re-encodes (with the
 * encoder's own put functions) to a frame that decodes to the same
 * message; "need more" gives the frame's full size once the header is
 * there; a refusal is RDV_EPROTO with a reason.
 */
#include "fuzz.h"
#include "rdv/status.h"
#include "stores/tcp_codec.h"

static void put_span(rdv_tcp_buf *b, rdv_tcp_span s)
{
    rdv_tcp_put_bytes(b, s.p, s.len);
}

/* The entries of a list, counted; FUZZ_CHECKs they fill the span. */
static uint32_t count_items(rdv_tcp_span items)
{
    rdv_tcp_span e;
    uint32_t n = 0;

    while (rdv_tcp_next(&items, &e))
        n++;
    FUZZ_CHECK(items.len == 0, "%u bytes after the last list entry",
               items.len);
    return n;
}

static void encode_request(rdv_tcp_buf *b, const rdv_tcp_msg *m)
{
    switch (m->op) {
    case RDV_TCP_HELLO:
        rdv_tcp_put_u32(b, m->magic);
        rdv_tcp_put_u16(b, m->version);
        rdv_tcp_put_u16(b, 0);
        put_span(b, m->key);
        break;
    case RDV_TCP_SET:
        rdv_tcp_put_u32(b, m->set_flags);
        put_span(b, m->key);
        put_span(b, m->value);
        break;
    case RDV_TCP_GET:
        rdv_tcp_put_u64(b, (uint64_t)m->timeout_ns);
        put_span(b, m->key);
        break;
    case RDV_TCP_WAIT:
    case RDV_TCP_MGET:
        rdv_tcp_put_u64(b, (uint64_t)m->timeout_ns);
        rdv_tcp_put_u32(b, m->count);
        rdv_tcp_reserve(b, m->items.len);
        if (!b->failed) {
            memcpy(b->p + b->len, m->items.p, m->items.len);
            b->len += m->items.len;
        }
        break;
    case RDV_TCP_ADD:
        rdv_tcp_put_u64(b, (uint64_t)m->delta);
        put_span(b, m->key);
        break;
    case RDV_TCP_CAS:
        rdv_tcp_put_u8(b, m->has_expected);
        put_span(b, m->key);
        put_span(b, m->expected);
        put_span(b, m->value);
        break;
    case RDV_TCP_DEL:
    case RDV_TCP_DELPFX:
    case RDV_TCP_LIST:
        put_span(b, m->key);
        break;
    case RDV_TCP_MSET: {
        rdv_tcp_span items = m->items, k, v;

        rdv_tcp_put_u32(b, m->count);
        while (rdv_tcp_next(&items, &k) && rdv_tcp_next(&items, &v)) {
            put_span(b, k);
            put_span(b, v);
        }
        break;
    }
    default:
        break;
    }
}

static void encode_reply(rdv_tcp_buf *b, const rdv_tcp_msg *m)
{
    rdv_tcp_put_u32(b, (uint32_t)m->status);
    if (m->status != RDV_OK) {
        put_span(b, m->status == RDV_ETIMEDOUT &&
                            (m->op == RDV_TCP_WAIT || m->op == RDV_TCP_MGET)
                        ? m->present
                        : m->value);
        return;
    }
    switch (m->op) {
    case RDV_TCP_HELLO:
        rdv_tcp_put_u16(b, m->version);
        rdv_tcp_put_u16(b, 0);
        rdv_tcp_put_u32(b, m->max_body);
        break;
    case RDV_TCP_GET:
        put_span(b, m->value);
        break;
    case RDV_TCP_ADD:
    case RDV_TCP_DELPFX:
    case RDV_TCP_NKEYS:
        rdv_tcp_put_u64(b, (uint64_t)m->number);
        break;
    case RDV_TCP_CAS:
        rdv_tcp_put_u8(b, m->won);
        rdv_tcp_put_u8(b, m->has_value);
        put_span(b, m->value);
        break;
    case RDV_TCP_MGET:
    case RDV_TCP_LIST: {
        rdv_tcp_span items = m->items, e;

        rdv_tcp_put_u32(b, m->count);
        while (rdv_tcp_next(&items, &e))
            put_span(b, e);
        break;
    }
    case RDV_TCP_STATS:
        rdv_tcp_put_u32(b, m->count);
        for (uint32_t i = 0; i < m->count; i++)
            rdv_tcp_put_u64(b, rdv_tcp_stat(m, i));
        break;
    default:
        break;
    }
}

static int same_span(rdv_tcp_span a, rdv_tcp_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void check_same(const rdv_tcp_msg *a, const rdv_tcp_msg *b)
{
    FUZZ_CHECK(a->op == b->op && a->reply == b->reply && a->id == b->id &&
                   a->magic == b->magic && a->version == b->version &&
                   a->timeout_ns == b->timeout_ns &&
                   a->set_flags == b->set_flags && a->delta == b->delta &&
                   a->has_expected == b->has_expected &&
                   a->count == b->count && a->status == b->status &&
                   a->max_body == b->max_body && a->number == b->number &&
                   a->won == b->won && a->has_value == b->has_value,
               "a %s %s changes in a round trip", rdv_tcp_op_name(a->op),
               a->reply ? "reply" : "request");
    FUZZ_CHECK(same_span(a->key, b->key) && same_span(a->value, b->value) &&
                   same_span(a->expected, b->expected) &&
                   same_span(a->items, b->items) &&
                   same_span(a->present, b->present),
               "the bytes of a %s change in a round trip",
               rdv_tcp_op_name(a->op));
}

static void check_decoded(const rdv_tcp_msg *m, uint32_t max_body)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_msg back;
    size_t start, used;
    char why[256];
    int rc;

    if (!m->reply && (m->op == RDV_TCP_WAIT || m->op == RDV_TCP_MGET ||
                      m->op == RDV_TCP_MSET))
        FUZZ_CHECK(count_items(m->items) ==
                       m->count * (m->op == RDV_TCP_MSET ? 2u : 1u),
                   "a %s request's count %u does not match its list",
                   rdv_tcp_op_name(m->op), m->count);
    if (m->reply && m->status == RDV_OK &&
        (m->op == RDV_TCP_MGET || m->op == RDV_TCP_LIST))
        FUZZ_CHECK(count_items(m->items) == m->count,
                   "a %s reply's count %u does not match its list",
                   rdv_tcp_op_name(m->op), m->count);
    start = rdv_tcp_begin(&b, (uint8_t)(m->op | (m->reply ? RDV_TCP_REPLY : 0)),
                          m->id);
    if (m->reply)
        encode_reply(&b, m);
    else
        encode_request(&b, m);
    rdv_tcp_end(&b, start);
    FUZZ_CHECK(!b.failed, "out of memory re-encoding");
    rc = rdv_tcp_decode(b.p, b.len, max_body, &back, &used, why, sizeof why);
    FUZZ_CHECK(rc == RDV_OK && used == b.len,
               "a re-encoded %s does not decode (%d): %s",
               rdv_tcp_op_name(m->op), rc, rc == RDV_EPROTO ? why : "");
    check_same(m, &back);
    rdv_tcp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t limits[] = {0, 64, 4096, RDV_TCP_BODY_MAX};
    uint32_t max_body;
    unsigned char *buf;
    size_t off = 0, len;

    if (size == 0)
        return 0;
    max_body = limits[data[0] & 3];
    len = size - 1;
    buf = malloc(len ? len : 1); /* exact size: ASan sees any overread */
    if (!buf)
        abort();
    memcpy(buf, data + 1, len);
    for (;;) {
        rdv_tcp_msg m;
        size_t used = 7;
        char why[256] = "";
        int rc = rdv_tcp_decode(buf + off, len - off, max_body, &m, &used,
                                why, sizeof why);

        if (rc == RDV_TCP_NEED_MORE) {
            FUZZ_CHECK(len - off < RDV_TCP_HDR ? used == 0
                                               : used > len - off,
                       "need more with %zu bytes, used %zu", len - off,
                       used);
            FUZZ_CHECK(used == 0 || used <= RDV_TCP_HDR + (size_t)max_body,
                       "a frame of %zu bytes passes a %u-byte limit", used,
                       max_body);
            break;
        }
        if (rc != RDV_OK) {
            FUZZ_CHECK(rc == RDV_EPROTO && fuzz_msg_ok(why, sizeof why),
                       "refused with %d, reason '%s'", rc, why);
            break;
        }
        FUZZ_CHECK(used >= RDV_TCP_HDR && used <= len - off &&
                       used - RDV_TCP_HDR <= max_body,
                   "a frame used %zu of %zu bytes", used, len - off);
        check_decoded(&m, max_body);
        off += used;
    }
    free(buf);
    return 0;
}
