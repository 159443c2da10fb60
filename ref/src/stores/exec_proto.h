/*
 * stores/exec_proto.h - the exec store protocol's codec (EXEC_PROTOCOL.md
 * in this folder): requests encoded into an iovec list, replies decoded
 * from bytes fed in any split. No I/O, so tests and a fuzzer can drive
 * it with plain buffers.
 */
#ifndef RDV_EXEC_PROTO_H
#define RDV_EXEC_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define RDV_EXEC_VERSION 1
#define RDV_EXEC_MAGIC "rdv-exec"
#define RDV_EXEC_MSG_MAX (64u * 1024u)  /* an error reply's message */
#define RDV_EXEC_HELLO_PAIRS_MAX 64u
#define RDV_EXEC_HELLO_ITEM_MAX 4096u
#define RDV_EXEC_LIST_MAX (1u << 24)    /* keys in one list reply */
#define RDV_EXEC_FIRST_ALLOC (64u * 1024u) /* a byte string's first buffer */

/* Message types: a request's, echoed by its reply. */
typedef enum rdv_exec_type {
    RDV_EXEC_HELLO = 1,
    RDV_EXEC_SET,
    RDV_EXEC_GET,
    RDV_EXEC_WAIT,
    RDV_EXEC_ADD,
    RDV_EXEC_COMPARE_SET,
    RDV_EXEC_DELETE,
    RDV_EXEC_DELETE_PREFIX,
    RDV_EXEC_MULTI_GET,
    RDV_EXEC_MULTI_SET,
    RDV_EXEC_LIST,
    RDV_EXEC_NUM_KEYS,
    RDV_EXEC_TYPE_END
} rdv_exec_type;

/* The protocol's name of an op type ("compare_set"), as the hello's ops
 * list spells it; NULL for hello and unknown types. */
const char *rdv_exec_type_name(int type);
/* The type whose name is name[0..len); 0 when none. */
int rdv_exec_type_parse(const char *name, size_t len);

/* ---- requests ---- */

/* A request under construction: small fields are copied into hdr, long
 * byte strings are referenced (so a 64 MiB value is never copied). The
 * referenced memory must outlive the write. */
typedef struct rdv_exec_req {
    unsigned char *hdr;
    size_t hlen, hcap;
    struct rdv_exec_seg {
        const void *ptr; /* NULL: hdr[off..off+len) */
        size_t off, len;
    } *segs;
    size_t nseg, segcap;
    size_t timeout_off; /* where rdv_exec_req_timeout() writes, or 0 */
    int oom;            /* an append failed: the request is unusable */
} rdv_exec_req;

/* Starts a request of type t (clears r first; r may be zeroed memory). */
void rdv_exec_req_begin(rdv_exec_req *r, int t);
void rdv_exec_req_u8(rdv_exec_req *r, uint8_t v);
void rdv_exec_req_u32(rdv_exec_req *r, uint32_t v);
void rdv_exec_req_i64(rdv_exec_req *r, int64_t v);
void rdv_exec_req_bytes(rdv_exec_req *r, const void *p, size_t len);
/* Appends an i64 timeout placeholder that rdv_exec_req_timeout() fills
 * in just before sending (time spent waiting for an adapter counts). */
void rdv_exec_req_timeout_slot(rdv_exec_req *r);
void rdv_exec_req_timeout(rdv_exec_req *r, int64_t timeout_ms);
/* The request as iovecs (malloc'd, *n of them) over r's memory; NULL
 * when out of memory. Valid until r changes. */
struct iovec *rdv_exec_req_iov(const rdv_exec_req *r, size_t *n);
void rdv_exec_req_free(rdv_exec_req *r);

/* The hello request rdv sends: magic and the versions it speaks. */
void rdv_exec_req_hello(rdv_exec_req *r);

/* ---- replies ---- */

/* A decoded reply. Every pointer is malloc'd and owned by the reply
 * until rdv_exec_reply_free() or taken (set to NULL) by the caller;
 * every byte string has a NUL one past its length. */
typedef struct rdv_exec_reply {
    int type;
    int32_t status;
    char *msg;          /* status != 0: the adapter's message */
    size_t msg_len;
    int64_t num;        /* add, delete_prefix, num_keys */
    uint32_t version;   /* hello */
    uint8_t won, present; /* compare_set */
    void *value;        /* get, compare_set */
    size_t value_len;
    /* multi_get values, list keys, hello name/value pairs (2 per pair) */
    void **items;
    size_t *lens;
    size_t nitems;
} rdv_exec_reply;

void rdv_exec_reply_free(rdv_exec_reply *r);

enum { RDV_EXEC_FIELD_MAX = 24 }; /* fields in one reply's schema */

/* Decodes one reply, fed in pieces of any size. */
typedef struct rdv_exec_parser {
    int want_type;   /* the request's type */
    uint32_t want_n; /* multi_get: the request's key count */
    rdv_exec_reply reply;
    /* where the parse stands */
    const unsigned char *schema; /* field codes, 0-terminated */
    size_t field;                /* index into schema */
    size_t item;                 /* within a repeated field */
    uint32_t count;              /* the repeated field's length */
    unsigned char scratch[8];    /* a fixed-size field being read */
    size_t have;                 /* bytes of it, or of *dest, so far */
    unsigned char *dest;         /* a byte string being filled */
    size_t dest_len;             /* its declared length */
    size_t dest_cap;             /* bytes allocated for it (+1 for NUL):
                                  * grown as they arrive, so a length
                                  * alone never allocates 64 MiB */
    int phase;                   /* 0 header, 1 body, 2 done, -1 error */
    char err[256];
} rdv_exec_parser;

/* Prepares p for the reply to a request of type t (with n keys for
 * multi_get). */
void rdv_exec_parser_init(rdv_exec_parser *p, int t, uint32_t n);

/* Feeds len bytes. Returns 1 when the reply is complete (*used says how
 * many bytes it took: any rest is not part of it), 0 when it needs more,
 * or RDV_EPROTO / RDV_ENOMEM with the reason in p->err; after an error
 * or completion feed no more. */
int rdv_exec_parser_feed(rdv_exec_parser *p, const void *data, size_t len,
                         size_t *used);

/* Frees what a parse allocated (a finished reply the caller did not
 * take, or a half-read one). */
void rdv_exec_parser_free(rdv_exec_parser *p);

#endif
