/*
 * stores/tcp_codec.h - the wire format of the tcp:// store and its
 * server (ref/src/server/), with no I/O: bytes in, messages out, so the
 * client, the server, the tests and a fuzzer share one validating
 * decoder (the shape of rendezvous/codec.c and hiredis's read.c).
 *
 * A connection carries frames. Each is a 16-byte header and a body,
 * little-endian:
 *
 *    0 kind u8     the op; RDV_TCP_REPLY (0x80) is set on replies
 *    1 flags u8    0
 *    2 spare u16   0
 *    4 len u32     body bytes that follow
 *    8 id u64      chosen by the client, echoed by the reply
 *
 * The first frame a client sends is HELLO: magic "RDVS", the protocol
 * version and the shared token (empty: none). Every request gets
 * exactly one reply with its id; a client drops a reply whose id it no
 * longer waits for, so a request it gave up on can never answer a later
 * one.
 *
 * Bodies ("bytes" is a u32 length and the bytes; keys are 1 to
 * RDV_SCOPED_KEY_MAX bytes without NUL, a prefix may be empty):
 *
 *   HELLO   u32 magic, u16 version, u16 0, bytes token
 *   SET     u32 flags (RDV_SET_CREATE_ONLY), bytes key, bytes value
 *   GET     i64 timeout_ns, bytes key
 *   WAIT    i64 timeout_ns, u32 n, n x bytes key
 *   MGET    i64 timeout_ns, u32 n, n x bytes key
 *   ADD     i64 delta, bytes key
 *   CAS     u8 has_expected, bytes key, bytes expected, bytes desired
 *   DEL     bytes key
 *   DELPFX  bytes prefix
 *   MSET    u32 n, n x (bytes key, bytes value)
 *   LIST    bytes prefix
 *   NKEYS   (empty)
 *   STATS   (empty)
 *
 * timeout_ns is what is left of the caller's deadline when the request
 * leaves: negative never expires, 0 tries once. The server keeps the
 * deadline and answers RDV_ETIMEDOUT itself.
 *
 * A reply body starts with an i32 status (an rdv_status, or
 * RDV_TCP_TOO_BIG). With RDV_OK the op's result follows:
 *
 *   HELLO   u16 version, u16 0, u32 max_body (the largest request body
 *           the server takes)
 *   GET     bytes value          ADD     i64 new value
 *   CAS     u8 won, u8 has_value, bytes current value
 *   DELPFX  u64 deleted          NKEYS   i64 keys
 *   MGET    u32 n, n x bytes value
 *   LIST    u32 n, n x bytes key
 *   STATS   u32 n, n x u64 (the fields of rdv_store_server_stats, in
 *           order; a newer server may send more)
 *   others  nothing
 *
 * A WAIT or MGET that timed out carries bytes present (one byte per
 * key, 1 when it exists) so the client can name the missing keys; any
 * other failure carries bytes text, the server's detail (it never
 * holds the token).
 *
 * Thread- and fork-safe: pure functions on the caller's memory.
 */
#ifndef RDV_STORES_TCP_CODEC_H
#define RDV_STORES_TCP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/store_ops.h"

#define RDV_TCP_MAGIC 0x53564452u /* "RDVS" read as little-endian */
#define RDV_TCP_VERSION 1
#define RDV_TCP_HDR 16
#define RDV_TCP_REPLY 0x80
#define RDV_TCP_TOKEN_MAX 1024u
/* The largest HELLO body: what a server reads from a client before its
 * hello, so a stranger cannot make it hold a frame of max_body. */
#define RDV_TCP_HELLO_BODY_MAX (12u + RDV_TCP_TOKEN_MAX)
/* The largest body anyone sends: a value of RDV_VALUE_MAX, its key and
 * room to spare. Replies never exceed it (RDV_TCP_TOO_BIG instead). */
#define RDV_TCP_BODY_MAX (RDV_VALUE_MAX + (1u << 20))
/* A reply status beside the rdv_status values: the answer would not fit
 * in one frame (a multi_get or list of more than RDV_TCP_BODY_MAX). */
#define RDV_TCP_TOO_BIG 1
/* rdv_tcp_decode's "not yet": the frame is not complete. */
#define RDV_TCP_NEED_MORE 1

typedef enum rdv_tcp_op {
    RDV_TCP_HELLO = 1,
    RDV_TCP_SET,
    RDV_TCP_GET,
    RDV_TCP_WAIT,
    RDV_TCP_MGET,
    RDV_TCP_ADD,
    RDV_TCP_CAS,
    RDV_TCP_DEL,
    RDV_TCP_DELPFX,
    RDV_TCP_MSET,
    RDV_TCP_LIST,
    RDV_TCP_NKEYS,
    RDV_TCP_STATS,
    RDV_TCP_OP_END
} rdv_tcp_op;

/* Bytes inside the frame a message was decoded from. */
typedef struct rdv_tcp_span {
    const unsigned char *p;
    uint32_t len;
} rdv_tcp_span;

/* One decoded frame. Spans point into the decoded buffer. Only the
 * fields of its op (above) are set; the rest are zero. */
typedef struct rdv_tcp_msg {
    uint8_t op;    /* rdv_tcp_op */
    uint8_t reply; /* 1: a reply */
    uint64_t id;
    /* requests */
    uint32_t magic;       /* HELLO */
    uint16_t version;     /* HELLO, both ways */
    int64_t timeout_ns;   /* GET, WAIT, MGET */
    uint32_t set_flags;   /* SET */
    int64_t delta;        /* ADD */
    uint8_t has_expected; /* CAS */
    rdv_tcp_span key;     /* the key; DELPFX, LIST: the prefix; HELLO:
                             the token */
    rdv_tcp_span value;   /* SET: the value; CAS: desired; replies: GET's
                             value, CAS's current value, a failure's text */
    rdv_tcp_span expected; /* CAS */
    uint32_t count;       /* WAIT, MGET: keys; MSET: pairs; replies: MGET
                             values, LIST keys, STATS numbers */
    rdv_tcp_span items;   /* count entries (rdv_tcp_next), or STATS's
                             count x u64 */
    /* replies */
    int32_t status;
    uint32_t max_body;    /* HELLO */
    int64_t number;       /* ADD, NKEYS, DELPFX */
    uint8_t won;          /* CAS */
    uint8_t has_value;    /* CAS */
    rdv_tcp_span present; /* WAIT, MGET timed out: a 0/1 byte per key */
} rdv_tcp_msg;

/* Decodes the frame at the front of buf[0..len). max_body bounds the
 * body (a server's limit, or RDV_TCP_BODY_MAX).
 *   RDV_OK             *m holds it, *used its size in bytes;
 *   RDV_TCP_NEED_MORE  the frame is incomplete; *used is its whole size
 *                      once the header is there (to size a buffer),
 *                      else 0;
 *   RDV_EPROTO         not a frame of this protocol, or too large: why
 *                      says what was wrong, quoting no payload bytes.
 * Never reads outside buf. */
int rdv_tcp_decode(const unsigned char *buf, size_t len, uint32_t max_body,
                   rdv_tcp_msg *m, size_t *used, char *why, size_t whylen);

/* Takes the next "bytes" entry off a decoded items span into *out: 1,
 * or 0 when none is left. Safe on what rdv_tcp_decode accepted. */
int rdv_tcp_next(rdv_tcp_span *items, rdv_tcp_span *out);

/* u64 number i of a STATS reply (0 past its end). */
uint64_t rdv_tcp_stat(const rdv_tcp_msg *m, uint32_t i);

/* A growing output buffer. Writes after an allocation failure are
 * dropped and `failed` stays set: check it once, after the frame. */
typedef struct rdv_tcp_buf {
    unsigned char *p;
    size_t len, cap;
    int failed;
} rdv_tcp_buf;

/* Starts a frame (kind: an op, | RDV_TCP_REPLY for a reply) and returns
 * where it starts, for rdv_tcp_end. */
size_t rdv_tcp_begin(rdv_tcp_buf *b, uint8_t kind, uint64_t id);
/* Writes the body length into the frame that starts at start. */
void rdv_tcp_end(rdv_tcp_buf *b, size_t start);
void rdv_tcp_put_u8(rdv_tcp_buf *b, uint8_t v);
void rdv_tcp_put_u16(rdv_tcp_buf *b, uint16_t v);
void rdv_tcp_put_u32(rdv_tcp_buf *b, uint32_t v);
void rdv_tcp_put_u64(rdv_tcp_buf *b, uint64_t v);
/* "bytes": a u32 length, then len bytes of p. */
void rdv_tcp_put_bytes(rdv_tcp_buf *b, const void *p, size_t len);
/* Room for `more` bytes past len, so a large value is copied once.
 * 0, or -1 (and failed set) when out of memory. */
int rdv_tcp_reserve(rdv_tcp_buf *b, size_t more);
void rdv_tcp_buf_free(rdv_tcp_buf *b);

/* The id of the frame starting at p (for the client, which numbers a
 * request only when it sends it). */
void rdv_tcp_set_id(unsigned char *frame, uint64_t id);

/* "get", "wait", ... for messages. */
const char *rdv_tcp_op_name(int op);

#endif
