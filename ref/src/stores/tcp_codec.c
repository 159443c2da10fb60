/*
 * stores/tcp_codec.c - encoder and validating decoder of the tcp://
 * store's frames (layouts in tcp_codec.h).
 *
 * Choices:
 *  - The decoder checks everything a handler would otherwise have to:
 *    lengths against the frame and against the contract's limits (keys
 *    1..RDV_SCOPED_KEY_MAX bytes without NUL, values up to
 *    RDV_VALUE_MAX), counts against the bytes that carry them, and that
 *    the body is used up exactly. What it accepts is safe to act on, so
 *    the server never parses, and garbage gets a reason naming the
 *    field, never the bytes (a token must not end up in a log).
 *  - No allocation: spans point into the caller's buffer, and lists of
 *    keys or values are walked with rdv_tcp_next() instead of being
 *    copied into arrays.
 *  - Encoding appends to one growing buffer with a sticky failure flag,
 *    so a request or reply is written as a straight list of puts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_codec.h"

typedef struct reader {
    const unsigned char *p;
    size_t left;
    const char *bad; /* the first thing that was wrong, or NULL */
} reader;

static uint64_t get_le(reader *r, size_t n)
{
    uint64_t v = 0;

    if (r->bad)
        return 0;
    if (r->left < n) {
        r->bad = "the body ends early";
        return 0;
    }
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | r->p[i];
    r->p += n;
    r->left -= n;
    return v;
}

enum { SPAN_ANY, SPAN_KEY, SPAN_PREFIX };

/* A "bytes" field of at most max bytes; keys are also checked for
 * emptiness (SPAN_KEY) and NUL bytes (SPAN_KEY, SPAN_PREFIX). */
static rdv_tcp_span get_span(reader *r, uint32_t max, int kind,
                             const char *what)
{
    rdv_tcp_span s = {NULL, 0};
    uint32_t len = (uint32_t)get_le(r, 4);

    if (r->bad)
        return s;
    if (len > r->left || len > max) {
        r->bad = what;
        return s;
    }
    if ((kind == SPAN_KEY && len == 0) ||
        (kind != SPAN_ANY && memchr(r->p, 0, len))) {
        r->bad = what;
        return s;
    }
    s.p = r->p;
    s.len = len;
    r->p += len;
    r->left -= len;
    return s;
}

/* count entries of "bytes" (pairs when pairs is set), checked as keys
 * (and values); the whole run becomes m->items. */
static void get_list(reader *r, rdv_tcp_msg *m, int pairs, int keys)
{
    const unsigned char *start;

    m->count = (uint32_t)get_le(r, 4);
    start = r->p;
    if (!r->bad && keys && m->count == 0)
        r->bad = "a key list is empty";
    for (uint32_t i = 0; i < m->count && !r->bad; i++) {
        if (keys)
            get_span(r, RDV_SCOPED_KEY_MAX, SPAN_KEY,
                     "a key in the list is empty, too long or holds NUL");
        else
            get_span(r, RDV_TCP_BODY_MAX, SPAN_ANY,
                     "an entry of the list is longer than the body");
        if (pairs)
            get_span(r, RDV_VALUE_MAX, SPAN_ANY,
                     "a value in the list is longer than the body or "
                     "RDV_VALUE_MAX");
    }
    if (!r->bad) {
        m->items.p = start;
        m->items.len = (uint32_t)(r->p - start);
    }
}

static rdv_tcp_span get_key(reader *r)
{
    return get_span(r, RDV_SCOPED_KEY_MAX, SPAN_KEY,
                    "the key is empty, too long or holds NUL");
}

static rdv_tcp_span get_prefix(reader *r)
{
    return get_span(r, RDV_SCOPED_KEY_MAX, SPAN_PREFIX,
                    "the prefix is too long or holds NUL");
}

static rdv_tcp_span get_value(reader *r)
{
    return get_span(r, RDV_VALUE_MAX, SPAN_ANY,
                    "a value is longer than the body or RDV_VALUE_MAX");
}

static void decode_request(reader *r, rdv_tcp_msg *m)
{
    switch (m->op) {
    case RDV_TCP_HELLO:
        m->magic = (uint32_t)get_le(r, 4);
        m->version = (uint16_t)get_le(r, 2);
        get_le(r, 2);
        if (!r->bad && m->magic != RDV_TCP_MAGIC)
            r->bad = "the hello has the wrong magic (not an rdv tcp "
                     "store client)";
        m->key = get_span(r, RDV_TCP_TOKEN_MAX, SPAN_ANY,
                          "the token is longer than 1024 bytes");
        break;
    case RDV_TCP_SET:
        m->set_flags = (uint32_t)get_le(r, 4);
        if (!r->bad && (m->set_flags & ~(uint32_t)RDV_SET_CREATE_ONLY))
            r->bad = "set carries unknown flags";
        m->key = get_key(r);
        m->value = get_value(r);
        break;
    case RDV_TCP_GET:
        m->timeout_ns = (int64_t)get_le(r, 8);
        m->key = get_key(r);
        break;
    case RDV_TCP_WAIT:
    case RDV_TCP_MGET:
        m->timeout_ns = (int64_t)get_le(r, 8);
        get_list(r, m, 0, 1);
        break;
    case RDV_TCP_ADD:
        m->delta = (int64_t)get_le(r, 8);
        m->key = get_key(r);
        break;
    case RDV_TCP_CAS:
        m->has_expected = (uint8_t)get_le(r, 1);
        if (!r->bad && m->has_expected > 1)
            r->bad = "compare_set's has_expected is not 0 or 1";
        m->key = get_key(r);
        m->expected = get_value(r);
        m->value = get_value(r);
        break;
    case RDV_TCP_DEL:
        m->key = get_key(r);
        break;
    case RDV_TCP_DELPFX:
    case RDV_TCP_LIST:
        m->key = get_prefix(r);
        break;
    case RDV_TCP_MSET:
        get_list(r, m, 1, 1);
        break;
    default: /* NKEYS, STATS: no body */
        break;
    }
}

static void decode_result(reader *r, rdv_tcp_msg *m)
{
    switch (m->op) {
    case RDV_TCP_HELLO:
        m->version = (uint16_t)get_le(r, 2);
        get_le(r, 2);
        m->max_body = (uint32_t)get_le(r, 4);
        break;
    case RDV_TCP_GET:
        m->value = get_value(r);
        m->has_value = 1;
        break;
    case RDV_TCP_ADD:
    case RDV_TCP_DELPFX:
    case RDV_TCP_NKEYS:
        m->number = (int64_t)get_le(r, 8);
        break;
    case RDV_TCP_CAS:
        m->won = (uint8_t)get_le(r, 1);
        m->has_value = (uint8_t)get_le(r, 1);
        if (!r->bad && (m->won > 1 || m->has_value > 1))
            r->bad = "compare_set's reply flags are not 0 or 1";
        m->value = get_value(r);
        break;
    case RDV_TCP_MGET:
        get_list(r, m, 0, 0);
        break;
    case RDV_TCP_LIST:
        get_list(r, m, 0, 0);
        break;
    case RDV_TCP_STATS:
        m->count = (uint32_t)get_le(r, 4);
        if (!r->bad && (uint64_t)m->count * 8 != r->left)
            r->bad = "the stats count does not match the body";
        m->items.p = r->p;
        m->items.len = (uint32_t)r->left;
        r->p += r->left;
        r->left = 0;
        break;
    default: /* SET, WAIT, DEL, MSET: the status says it all */
        break;
    }
}

static void decode_reply(reader *r, rdv_tcp_msg *m)
{
    m->status = (int32_t)get_le(r, 4);
    if (r->bad)
        return;
    if (m->status > RDV_TCP_TOO_BIG || m->status < RDV_ESTATE) {
        r->bad = "the reply's status is unknown";
        return;
    }
    if (m->status == RDV_OK) {
        decode_result(r, m);
    } else if (m->status == RDV_ETIMEDOUT &&
               (m->op == RDV_TCP_WAIT || m->op == RDV_TCP_MGET)) {
        m->present = get_span(r, RDV_TCP_BODY_MAX, SPAN_ANY,
                              "the timeout's key map is too long");
    } else {
        m->value = get_span(r, RDV_DETAIL_MAX, SPAN_ANY,
                            "the failure text is too long");
    }
}

int rdv_tcp_decode(const unsigned char *buf, size_t len, uint32_t max_body,
                   rdv_tcp_msg *m, size_t *used, char *why, size_t whylen)
{
    reader hdr = {buf, len, NULL}, body;
    uint8_t kind, flags;
    uint16_t spare;
    uint32_t blen;

    *used = 0;
    if (len < RDV_TCP_HDR)
        return RDV_TCP_NEED_MORE;
    memset(m, 0, sizeof *m);
    kind = (uint8_t)get_le(&hdr, 1);
    flags = (uint8_t)get_le(&hdr, 1);
    spare = (uint16_t)get_le(&hdr, 2);
    blen = (uint32_t)get_le(&hdr, 4);
    m->id = get_le(&hdr, 8);
    m->op = kind & (uint8_t)~RDV_TCP_REPLY;
    m->reply = (kind & RDV_TCP_REPLY) != 0;
    if (m->op < RDV_TCP_HELLO || m->op >= RDV_TCP_OP_END || flags ||
        spare) {
        snprintf(why, whylen, "bytes that are no frame (kind 0x%02x, "
                 "flags 0x%02x, spare 0x%04x)", kind, flags, spare);
        return RDV_EPROTO;
    }
    if (blen > max_body) {
        snprintf(why, whylen, "a %s frame of %u bytes exceeds the %u-byte "
                 "limit", rdv_tcp_op_name(m->op), blen, max_body);
        return RDV_EPROTO;
    }
    *used = RDV_TCP_HDR + (size_t)blen;
    if (len < *used)
        return RDV_TCP_NEED_MORE;
    body = (reader){buf + RDV_TCP_HDR, blen, NULL};
    if (m->reply)
        decode_reply(&body, m);
    else
        decode_request(&body, m);
    if (!body.bad && body.left)
        body.bad = "the body has bytes left over";
    if (body.bad) {
        snprintf(why, whylen, "malformed %s %s: %s", rdv_tcp_op_name(m->op),
                 m->reply ? "reply" : "request", body.bad);
        *used = 0;
        return RDV_EPROTO;
    }
    return RDV_OK;
}

int rdv_tcp_next(rdv_tcp_span *items, rdv_tcp_span *out)
{
    reader r = {items->p, items->len, NULL};

    if (items->len == 0)
        return 0;
    *out = get_span(&r, UINT32_MAX, SPAN_ANY, "");
    if (r.bad) /* only for spans the decoder never made */
        return 0;
    items->p = r.p;
    items->len = (uint32_t)r.left;
    return 1;
}

uint64_t rdv_tcp_stat(const rdv_tcp_msg *m, uint32_t i)
{
    reader r = {m->items.p + (size_t)i * 8, 8, NULL};

    if (i >= m->count)
        return 0;
    return get_le(&r, 8);
}

int rdv_tcp_reserve(rdv_tcp_buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 256;
    unsigned char *p;

    if (b->failed)
        return -1;
    if (b->len + more <= b->cap)
        return 0;
    while (cap < b->len + more)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put_le(rdv_tcp_buf *b, uint64_t v, size_t n)
{
    if (rdv_tcp_reserve(b, n))
        return;
    for (size_t i = 0; i < n; i++)
        b->p[b->len++] = (unsigned char)(v >> (8 * i));
}

void rdv_tcp_put_u8(rdv_tcp_buf *b, uint8_t v)
{
    put_le(b, v, 1);
}

void rdv_tcp_put_u16(rdv_tcp_buf *b, uint16_t v)
{
    put_le(b, v, 2);
}

void rdv_tcp_put_u32(rdv_tcp_buf *b, uint32_t v)
{
    put_le(b, v, 4);
}

void rdv_tcp_put_u64(rdv_tcp_buf *b, uint64_t v)
{
    put_le(b, v, 8);
}

void rdv_tcp_put_bytes(rdv_tcp_buf *b, const void *p, size_t len)
{
    put_le(b, len, 4);
    if (rdv_tcp_reserve(b, len) || len == 0)
        return;
    memcpy(b->p + b->len, p, len);
    b->len += len;
}

size_t rdv_tcp_begin(rdv_tcp_buf *b, uint8_t kind, uint64_t id)
{
    size_t start = b->len;

    put_le(b, kind, 1);
    put_le(b, 0, 3);
    put_le(b, 0, 4); /* the body length, written by rdv_tcp_end */
    put_le(b, id, 8);
    return start;
}

void rdv_tcp_end(rdv_tcp_buf *b, size_t start)
{
    uint64_t blen = b->len - start - RDV_TCP_HDR;

    if (b->failed)
        return;
    for (int i = 0; i < 4; i++)
        b->p[start + 4 + (size_t)i] = (unsigned char)(blen >> (8 * i));
}

void rdv_tcp_set_id(unsigned char *frame, uint64_t id)
{
    for (int i = 0; i < 8; i++)
        frame[8 + i] = (unsigned char)(id >> (8 * i));
}

void rdv_tcp_buf_free(rdv_tcp_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

const char *rdv_tcp_op_name(int op)
{
    static const char *const names[RDV_TCP_OP_END] = {
        [RDV_TCP_HELLO] = "hello",   [RDV_TCP_SET] = "set",
        [RDV_TCP_GET] = "get",       [RDV_TCP_WAIT] = "wait",
        [RDV_TCP_MGET] = "multi_get", [RDV_TCP_ADD] = "add",
        [RDV_TCP_CAS] = "compare_set", [RDV_TCP_DEL] = "delete",
        [RDV_TCP_DELPFX] = "delete_prefix", [RDV_TCP_MSET] = "multi_set",
        [RDV_TCP_LIST] = "list",     [RDV_TCP_NKEYS] = "num_keys",
        [RDV_TCP_STATS] = "stats",
    };

    return op > 0 && op < RDV_TCP_OP_END ? names[op] : "unknown";
}
