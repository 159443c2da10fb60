/*
 * stores/exec_proto.c - the exec store protocol's codec: requests out as
 * iovecs, replies in as a parse fed with bytes in any split (the hiredis
 * read.c shape: bytes in, messages out, no I/O). EXEC_PROTOCOL.md is the
 * specification.
 *
 * Choices:
 * - No outer frame: every field carries its length, so a reply of 64
 *   values of 64 MiB needs no 4 GiB frame buffer. The parser copies each
 *   byte string straight into its own allocation (value length + 1, for
 *   the NUL rdv/store.h promises), so a value is held once.
 * - A declared length is checked against its field's limit before any
 *   allocation, and a repeated field's count never sizes an allocation:
 *   its arrays grow as items actually arrive. A lying count costs the
 *   liar bytes, not us memory.
 * - A reply is described by a schema (one code per field, see schema_of)
 *   so one loop decodes every op; the parse can stop after any byte and
 *   resume with the next feed.
 * - Requests reference long byte strings instead of copying them (short
 *   ones, keys mostly, are copied, to keep the iovec count low).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_proto.h"
#include "rdv/status.h"
#include "rdv/store_ops.h"

#define COPY_MAX 256 /* byte strings up to this are copied into hdr */

static const char *const type_names[RDV_EXEC_TYPE_END] = {
    [RDV_EXEC_SET] = "set",
    [RDV_EXEC_GET] = "get",
    [RDV_EXEC_WAIT] = "wait",
    [RDV_EXEC_ADD] = "add",
    [RDV_EXEC_COMPARE_SET] = "compare_set",
    [RDV_EXEC_DELETE] = "delete",
    [RDV_EXEC_DELETE_PREFIX] = "delete_prefix",
    [RDV_EXEC_MULTI_GET] = "multi_get",
    [RDV_EXEC_MULTI_SET] = "multi_set",
    [RDV_EXEC_LIST] = "list",
    [RDV_EXEC_NUM_KEYS] = "num_keys",
};

const char *rdv_exec_type_name(int type)
{
    return type > 0 && type < RDV_EXEC_TYPE_END ? type_names[type] : NULL;
}

int rdv_exec_type_parse(const char *name, size_t len)
{
    for (int t = RDV_EXEC_SET; t < RDV_EXEC_TYPE_END; t++)
        if (strlen(type_names[t]) == len &&
            memcmp(type_names[t], name, len) == 0)
            return t;
    return 0;
}

/* ---- requests ---------------------------------------------------------- */

static void seg_add(rdv_exec_req *r, const void *ptr, size_t off, size_t len)
{
    struct rdv_exec_seg *last = r->nseg ? &r->segs[r->nseg - 1] : NULL;

    if (!ptr && last && !last->ptr && last->off + last->len == off) {
        last->len += len; /* extends the current run of hdr bytes */
        return;
    }
    if (r->nseg == r->segcap) {
        size_t cap = r->segcap ? r->segcap * 2 : 8;
        struct rdv_exec_seg *s = realloc(r->segs, cap * sizeof *s);

        if (!s) {
            r->oom = 1;
            return;
        }
        r->segs = s;
        r->segcap = cap;
    }
    r->segs[r->nseg++] = (struct rdv_exec_seg){ptr, off, len};
}

static void hdr_put(rdv_exec_req *r, const void *p, size_t len)
{
    if (r->oom)
        return;
    if (r->hlen + len > r->hcap) {
        size_t cap = r->hcap ? r->hcap : 64;
        unsigned char *h;

        while (cap < r->hlen + len)
            cap *= 2;
        if (!(h = realloc(r->hdr, cap))) {
            r->oom = 1;
            return;
        }
        r->hdr = h;
        r->hcap = cap;
    }
    memcpy(r->hdr + r->hlen, p, len);
    seg_add(r, NULL, r->hlen, len);
    r->hlen += len;
}

static void put_be(unsigned char *b, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const unsigned char *b, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}

void rdv_exec_req_begin(rdv_exec_req *r, int t)
{
    unsigned char *hdr = r->hdr;
    struct rdv_exec_seg *segs = r->segs;
    size_t hcap = r->hcap, segcap = r->segcap;

    /* reuse the buffers of an earlier request, if any */
    *r = (rdv_exec_req){.hdr = hdr, .hcap = hcap, .segs = segs,
                        .segcap = segcap};
    rdv_exec_req_u8(r, (uint8_t)t);
}

void rdv_exec_req_u8(rdv_exec_req *r, uint8_t v)
{
    hdr_put(r, &v, 1);
}

void rdv_exec_req_u32(rdv_exec_req *r, uint32_t v)
{
    unsigned char b[4];

    put_be(b, v, 4);
    hdr_put(r, b, 4);
}

void rdv_exec_req_i64(rdv_exec_req *r, int64_t v)
{
    unsigned char b[8];

    put_be(b, (uint64_t)v, 8);
    hdr_put(r, b, 8);
}

void rdv_exec_req_bytes(rdv_exec_req *r, const void *p, size_t len)
{
    rdv_exec_req_u32(r, (uint32_t)len);
    if (len <= COPY_MAX)
        hdr_put(r, p, len);
    else if (!r->oom)
        seg_add(r, p, 0, len);
}

void rdv_exec_req_timeout_slot(rdv_exec_req *r)
{
    r->timeout_off = r->hlen;
    rdv_exec_req_i64(r, -1);
}

void rdv_exec_req_timeout(rdv_exec_req *r, int64_t timeout_ms)
{
    if (r->timeout_off && !r->oom)
        put_be(r->hdr + r->timeout_off, (uint64_t)timeout_ms, 8);
}

struct iovec *rdv_exec_req_iov(const rdv_exec_req *r, size_t *n)
{
    struct iovec *iov;

    if (r->oom || !(iov = malloc((r->nseg ? r->nseg : 1) * sizeof *iov)))
        return NULL;
    for (size_t i = 0; i < r->nseg; i++) {
        const struct rdv_exec_seg *s = &r->segs[i];

        iov[i].iov_base = (void *)(s->ptr ? s->ptr : r->hdr + s->off);
        iov[i].iov_len = s->len;
    }
    *n = r->nseg;
    return iov;
}

void rdv_exec_req_free(rdv_exec_req *r)
{
    free(r->hdr);
    free(r->segs);
    memset(r, 0, sizeof *r);
}

void rdv_exec_req_hello(rdv_exec_req *r)
{
    rdv_exec_req_begin(r, RDV_EXEC_HELLO);
    rdv_exec_req_bytes(r, RDV_EXEC_MAGIC, strlen(RDV_EXEC_MAGIC));
    rdv_exec_req_u32(r, RDV_EXEC_VERSION);
    rdv_exec_req_u32(r, RDV_EXEC_VERSION);
}

/* ---- replies ----------------------------------------------------------- */

/* Field codes of a reply schema. */
enum {
    F_END = 0,
    F_NUM,        /* i64 -> num */
    F_VERSION,    /* u32 -> version */
    F_WON,        /* u8 0/1 -> won */
    F_PRESENT,    /* u8 0/1 -> present */
    F_VALUE,      /* bytes <= RDV_VALUE_MAX -> value */
    F_MSG,        /* bytes <= RDV_EXEC_MSG_MAX -> msg */
    F_MAGIC,      /* bytes == RDV_EXEC_MAGIC */
    F_COUNT_SAME, /* u32 == want_n */
    F_COUNT_LIST, /* u32 <= RDV_EXEC_LIST_MAX */
    F_COUNT_PAIRS,/* u32 <= RDV_EXEC_HELLO_PAIRS_MAX, two items each */
    F_EACH_VALUE, /* count x bytes <= RDV_VALUE_MAX -> items */
    F_EACH_KEY,   /* count x key -> items */
    F_EACH_ITEM,  /* count x bytes <= RDV_EXEC_HELLO_ITEM_MAX -> items */
};

static const unsigned char *schema_of(int type, int32_t status)
{
    static const unsigned char none[] = {F_END}, msg[] = {F_MSG, F_END},
        value[] = {F_VALUE, F_END}, num[] = {F_NUM, F_END},
        cas[] = {F_WON, F_PRESENT, F_VALUE, F_END},
        multi[] = {F_COUNT_SAME, F_EACH_VALUE, F_END},
        list[] = {F_COUNT_LIST, F_EACH_KEY, F_END},
        hello[] = {F_MAGIC, F_VERSION, F_COUNT_PAIRS, F_EACH_ITEM, F_END};

    if (status != 0)
        return msg;
    switch (type) {
    case RDV_EXEC_HELLO: return hello;
    case RDV_EXEC_GET: return value;
    case RDV_EXEC_ADD:
    case RDV_EXEC_DELETE_PREFIX:
    case RDV_EXEC_NUM_KEYS: return num;
    case RDV_EXEC_COMPARE_SET: return cas;
    case RDV_EXEC_MULTI_GET: return multi;
    case RDV_EXEC_LIST: return list;
    default: return none;
    }
}

void rdv_exec_parser_init(rdv_exec_parser *p, int t, uint32_t n)
{
    memset(p, 0, sizeof *p);
    p->want_type = t;
    p->want_n = n;
}

void rdv_exec_reply_free(rdv_exec_reply *r)
{
    free(r->msg);
    free(r->value);
    for (size_t i = 0; i < r->nitems; i++)
        free(r->items[i]);
    free(r->items);
    free(r->lens);
    memset(r, 0, sizeof *r);
}

void rdv_exec_parser_free(rdv_exec_parser *p)
{
    free(p->dest);
    p->dest = NULL;
    rdv_exec_reply_free(&p->reply);
}

static int fail(rdv_exec_parser *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(rdv_exec_parser *p, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    p->phase = -1;
    return rc;
}

static const char *what(const rdv_exec_parser *p)
{
    const char *n = rdv_exec_type_name(p->want_type);

    return n ? n : "hello";
}

/* Gathers a fixed-size field of n bytes into scratch; 1 when complete. */
static int gather(rdv_exec_parser *p, const unsigned char *d, size_t len,
                  size_t *pos, size_t n)
{
    size_t take = n - p->have < len - *pos ? n - p->have : len - *pos;

    memcpy(p->scratch + p->have, d + *pos, take);
    p->have += take;
    *pos += take;
    if (p->have < n)
        return 0;
    p->have = 0;
    return 1;
}

static int header(rdv_exec_parser *p, const unsigned char *d, size_t len,
                  size_t *pos)
{
    if (!gather(p, d, len, pos, 5))
        return 0;
    if (p->scratch[0] != p->want_type)
        return fail(p, RDV_EPROTO, "the reply to %s has type %u, not %d%s",
                    what(p), p->scratch[0], p->want_type,
                    p->scratch[0] >= 0x20 && p->scratch[0] < 0x7f
                        ? " (it starts with text: does the adapter "
                          "print to stdout?)"
                        : "");
    p->reply.type = p->want_type;
    p->reply.status = (int32_t)(uint32_t)get_be(p->scratch + 1, 4);
    p->schema = schema_of(p->want_type, p->reply.status);
    p->phase = 1;
    return 0;
}

static size_t limit_of(int code)
{
    switch (code) {
    case F_MSG: return RDV_EXEC_MSG_MAX;
    case F_MAGIC: return 16;
    case F_EACH_KEY: return RDV_SCOPED_KEY_MAX;
    case F_EACH_ITEM: return RDV_EXEC_HELLO_ITEM_MAX;
    default: return RDV_VALUE_MAX;
    }
}

/* Appends the finished byte string to items, growing the arrays. */
static int push_item(rdv_exec_parser *p)
{
    rdv_exec_reply *r = &p->reply;

    if ((r->nitems & (r->nitems - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
        size_t cap = r->nitems ? r->nitems * 2 : 1;
        void **items = realloc(r->items, cap * sizeof *items);
        size_t *lens;

        if (!items)
            return fail(p, RDV_ENOMEM, "out of memory reading %s", what(p));
        r->items = items;
        if (!(lens = realloc(r->lens, cap * sizeof *lens)))
            return fail(p, RDV_ENOMEM, "out of memory reading %s", what(p));
        r->lens = lens;
    }
    r->items[r->nitems] = p->dest;
    r->lens[r->nitems++] = p->dest_len;
    p->dest = NULL;
    return RDV_OK;
}

/* A byte string is complete: check it and put it where it belongs. */
static int bytes_done(rdv_exec_parser *p, int code)
{
    rdv_exec_reply *r = &p->reply;
    int rc = RDV_OK;

    p->dest[p->dest_len] = '\0';
    switch (code) {
    case F_MSG:
        r->msg = (char *)p->dest;
        r->msg_len = p->dest_len;
        break;
    case F_VALUE:
        r->value = p->dest;
        r->value_len = p->dest_len;
        break;
    case F_MAGIC:
        if (p->dest_len != strlen(RDV_EXEC_MAGIC) ||
            memcmp(p->dest, RDV_EXEC_MAGIC, p->dest_len) != 0)
            rc = fail(p, RDV_EPROTO, "the hello reply lacks the magic "
                      "'%s'", RDV_EXEC_MAGIC);
        free(p->dest);
        break;
    case F_EACH_KEY:
        if (p->dest_len == 0 || memchr(p->dest, 0, p->dest_len)) {
            free(p->dest);
            p->dest = NULL;
            return fail(p, RDV_EPROTO, "key %zu of the %s reply is %s",
                        r->nitems, what(p), p->dest_len ? "holds a NUL "
                        "byte" : "empty");
        }
        /* fall through */
    default:
        return push_item(p);
    }
    p->dest = NULL;
    return rc;
}

/* Makes room for need bytes of the string being read (doubling, up to
 * its declared length): memory follows the bytes that came, not the
 * length an adapter declared. 0, or -1 when out of memory. */
static int grow_dest(rdv_exec_parser *p, size_t need)
{
    size_t cap = p->dest_cap * 2 > need ? p->dest_cap * 2 : need;
    unsigned char *d;

    if (cap > p->dest_len)
        cap = p->dest_len;
    if (!(d = realloc(p->dest, cap + 1)))
        return -1;
    p->dest = d;
    p->dest_cap = cap;
    return 0;
}

/* Reads the byte string of field code: its length, then its bytes.
 * Returns 1 when complete, 0 when it needs more, < 0 on error. */
static int read_bytes(rdv_exec_parser *p, int code, const unsigned char *d,
                      size_t len, size_t *pos)
{
    size_t take;
    int rc;

    if (!p->dest) {
        uint64_t n;

        if (!gather(p, d, len, pos, 4))
            return 0;
        n = get_be(p->scratch, 4);
        if (n > limit_of(code))
            return fail(p, RDV_EPROTO, "the %s reply declares %llu bytes "
                        "for a field of at most %zu", what(p),
                        (unsigned long long)n, limit_of(code));
        p->dest_cap = n < RDV_EXEC_FIRST_ALLOC ? (size_t)n
                                               : RDV_EXEC_FIRST_ALLOC;
        if (!(p->dest = malloc(p->dest_cap + 1)))
            return fail(p, RDV_ENOMEM, "out of memory for %llu bytes of "
                        "the %s reply", (unsigned long long)n, what(p));
        p->dest_len = (size_t)n;
        p->have = 0;
    }
    take = p->dest_len - p->have < len - *pos ? p->dest_len - p->have
                                              : len - *pos;
    if (p->have + take > p->dest_cap && grow_dest(p, p->have + take))
        return fail(p, RDV_ENOMEM, "out of memory for %zu bytes of the %s "
                    "reply", p->dest_len, what(p));
    memcpy(p->dest + p->have, d + *pos, take);
    p->have += take;
    *pos += take;
    if (p->have < p->dest_len)
        return 0;
    p->have = 0;
    rc = bytes_done(p, code);
    return rc < 0 ? rc : 1;
}

/* Reads a fixed-size field; 1 when complete, 0 more, < 0 error. */
static int read_fixed(rdv_exec_parser *p, int code, const unsigned char *d,
                      size_t len, size_t *pos)
{
    rdv_exec_reply *r = &p->reply;
    size_t n = code == F_NUM ? 8 : (code == F_WON || code == F_PRESENT) ? 1
                                                                        : 4;
    uint64_t v;

    if (!gather(p, d, len, pos, n))
        return 0;
    v = get_be(p->scratch, n);
    switch (code) {
    case F_NUM: r->num = (int64_t)v; break;
    case F_VERSION: r->version = (uint32_t)v; break;
    case F_WON:
    case F_PRESENT:
        if (v > 1)
            return fail(p, RDV_EPROTO, "the %s reply has %llu for a flag "
                        "(0 or 1)", what(p), (unsigned long long)v);
        *(code == F_WON ? &r->won : &r->present) = (uint8_t)v;
        break;
    case F_COUNT_SAME:
        if (v != p->want_n)
            return fail(p, RDV_EPROTO, "the %s reply has %llu values for "
                        "%u keys", what(p), (unsigned long long)v,
                        p->want_n);
        p->count = (uint32_t)v;
        break;
    case F_COUNT_LIST:
    case F_COUNT_PAIRS: {
        int list = code == F_COUNT_LIST;
        uint32_t max = list ? RDV_EXEC_LIST_MAX : RDV_EXEC_HELLO_PAIRS_MAX;

        if (v > max)
            return fail(p, RDV_EPROTO, "the %s reply declares %llu %s (at "
                        "most %u)", what(p), (unsigned long long)v,
                        list ? "keys" : "pairs", max);
        p->count = (uint32_t)v * (list ? 1 : 2);
        break;
    }
    }
    return 1;
}

static int is_each(int code)
{
    return code == F_EACH_VALUE || code == F_EACH_KEY || code == F_EACH_ITEM;
}

int rdv_exec_parser_feed(rdv_exec_parser *p, const void *data, size_t len,
                         size_t *used)
{
    const unsigned char *d = data;
    size_t pos = 0;
    int rc = 0;

    while (p->phase >= 0 && p->phase < 2) {
        int code;

        if (p->phase == 0) {
            if (pos == len || (rc = header(p, d, len, &pos)) < 0)
                break;
            continue;
        }
        code = p->schema[p->field];
        if (code == F_END) {
            p->phase = 2;
            break;
        }
        if (is_each(code) && p->item == p->count) {
            p->field++; /* every item read (or none declared) */
            p->item = 0;
            continue;
        }
        if (pos == len)
            break;
        rc = (is_each(code) || code == F_VALUE || code == F_MSG ||
              code == F_MAGIC)
                 ? read_bytes(p, code, d, len, &pos)
                 : read_fixed(p, code, d, len, &pos);
        if (rc < 0)
            break;
        if (rc == 1) {
            if (is_each(code))
                p->item++;
            else
                p->field++;
        }
    }
    if (used)
        *used = pos;
    if (rc < 0)
        return rc;
    return p->phase == 2;
}
