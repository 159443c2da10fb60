/*
 * tests/fuzz/make_seeds.c - writes the binary seeds of the fuzz corpora
 * with librdv's own encoders, so a seed is what a real peer, server or
 * store sends (and stays so when a format changes: run it again).
 *
 *   build/release/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
 *
 * Each seed starts with the steering bytes its target reads first (see
 * the head comment of fuzz_<name>.c). The text seeds (URLs, fault specs,
 * workloads) are files written by hand.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rendezvous/codec.h"
#include "stores/exec_proto.h"
#include "stores/tcp_codec.h"
#include "transport/frame.h"

static const char *root;

static void seed(const char *target, const char *name, const void *a,
                 size_t alen, const void *b, size_t blen)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    f = fopen(path, "wb");
    if (!f || fwrite(a, 1, alen, f) != alen ||
        (blen && fwrite(b, 1, blen, f) != blen) || fclose(f)) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void records(void)
{
    rdv_record r = {.rank = 3, .size = 8, .port = 40123, .pid = 4242,
                    .nonce = 0x1122334455667788ull};
    rdv_hello h = {.kind = RDV_HELLO_CONNECT, .rank = 5, .size = 8,
                   .nonce = 0x1122334455667788ull};
    uint8_t buf[RDV_RECORD_SIZE], mode;
    struct sockaddr_in6 *a6;
    struct sockaddr_storage ss = {0};

    r.token = h.token = rdv_job_token("job7");
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(40123);
    a->sin_addr.s_addr = htonl(0x7f000001);
    rdv_record_set_addr(&r, &ss);
    snprintf(r.hostname, sizeof r.hostname, "node-17.cluster");
    rdv_record_encode(&r, buf);
    mode = 0;
    seed("record", "record-ipv4", &mode, 1, buf, sizeof buf);
    mode = 6; /* magic, version and checksum stamped */
    seed("record", "record-ipv4-steered", &mode, 1, buf, sizeof buf);
    memset(&ss, 0, sizeof ss);
    a6 = (struct sockaddr_in6 *)&ss;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(1);
    a6->sin6_addr.s6_addr[15] = 1;
    rdv_record_set_addr(&r, &ss);
    r.rank = 0;
    r.size = 1;
    r.hostname[0] = '\0';
    rdv_record_encode(&r, buf);
    mode = 0;
    seed("record", "record-ipv6", &mode, 1, buf, sizeof buf);
    seed("record", "record-short", &mode, 1, buf, 40);
    rdv_hello_encode(&h, buf);
    mode = 1;
    seed("record", "hello-connect", &mode, 1, buf, RDV_HELLO_SIZE);
    h.kind = RDV_HELLO_ACCEPT;
    rdv_hello_encode(&h, buf);
    mode = 7;
    seed("record", "hello-accept-steered", &mode, 1, buf, RDV_HELLO_SIZE);
    seed("record", "hello-as-record", (uint8_t[]){0}, 1, buf,
         RDV_HELLO_SIZE);
}

static void frames(void)
{
    unsigned char buf[RDV_FRAME_HDR + RDV_FRAME_ABORT_MAX];
    size_t n;

    rdv_frame_encode(buf, RDV_FRAME_DATA, 12, 4096);
    seed("frame", "data", buf, RDV_FRAME_HDR, NULL, 0);
    n = rdv_frame_abort(buf, 3, 2, "allreduce(ring) step 3/6: timed out");
    seed("frame", "abort", buf, n, NULL, 0);
    n = rdv_frame_abort(buf, 0, -1, "");
    seed("frame", "abort-empty", buf, n, NULL, 0);
    memcpy(buf, "GET / HTTP/1.1\r\n\r\n", 18);
    seed("frame", "stranger", buf, 18, NULL, 0);
}

/* One tcp frame, behind a steering byte for the body limit (3: the
 * protocol's own). */
typedef struct tcp_seed {
    rdv_tcp_buf b;
    size_t start;
} tcp_seed;

static void tcp_begin(tcp_seed *t, int kind, uint64_t id)
{
    memset(t, 0, sizeof *t);
    rdv_tcp_put_u8(&t->b, 3);
    t->start = rdv_tcp_begin(&t->b, (uint8_t)kind, id);
}

static void tcp_end(tcp_seed *t, const char *name)
{
    rdv_tcp_end(&t->b, t->start);
    if (t->b.failed)
        exit(1);
    seed("tcp_frame", name, t->b.p, t->b.len, NULL, 0);
    rdv_tcp_buf_free(&t->b);
}

static void tcp_frames(void)
{
    tcp_seed t;

    tcp_begin(&t, RDV_TCP_HELLO, 1);
    rdv_tcp_put_u32(&t.b, RDV_TCP_MAGIC);
    rdv_tcp_put_u16(&t.b, RDV_TCP_VERSION);
    rdv_tcp_put_u16(&t.b, 0);
    rdv_tcp_put_bytes(&t.b, "s3cret", 6);
    tcp_end(&t, "hello");
    tcp_begin(&t, RDV_TCP_SET, 2);
    rdv_tcp_put_u32(&t.b, RDV_SET_CREATE_ONLY);
    rdv_tcp_put_bytes(&t.b, "job7/addr/3", 11);
    rdv_tcp_put_bytes(&t.b, "value", 5);
    tcp_end(&t, "set");
    tcp_begin(&t, RDV_TCP_GET, 3);
    rdv_tcp_put_u64(&t.b, 5000000000ull);
    rdv_tcp_put_bytes(&t.b, "k", 1);
    tcp_end(&t, "get");
    tcp_begin(&t, RDV_TCP_MGET, 4);
    rdv_tcp_put_u64(&t.b, (uint64_t)-1);
    rdv_tcp_put_u32(&t.b, 2);
    rdv_tcp_put_bytes(&t.b, "a", 1);
    rdv_tcp_put_bytes(&t.b, "b", 1);
    tcp_end(&t, "mget");
    tcp_begin(&t, RDV_TCP_WAIT, 5);
    rdv_tcp_put_u64(&t.b, 0);
    rdv_tcp_put_u32(&t.b, 1);
    rdv_tcp_put_bytes(&t.b, "a", 1);
    tcp_end(&t, "wait");
    tcp_begin(&t, RDV_TCP_ADD, 6);
    rdv_tcp_put_u64(&t.b, (uint64_t)-7);
    rdv_tcp_put_bytes(&t.b, "ctr", 3);
    tcp_end(&t, "add");
    tcp_begin(&t, RDV_TCP_CAS, 7);
    rdv_tcp_put_u8(&t.b, 1);
    rdv_tcp_put_bytes(&t.b, "k", 1);
    rdv_tcp_put_bytes(&t.b, "old", 3);
    rdv_tcp_put_bytes(&t.b, "new", 3);
    tcp_end(&t, "cas");
    tcp_begin(&t, RDV_TCP_MSET, 8);
    rdv_tcp_put_u32(&t.b, 2);
    rdv_tcp_put_bytes(&t.b, "a", 1);
    rdv_tcp_put_bytes(&t.b, "1", 1);
    rdv_tcp_put_bytes(&t.b, "b", 1);
    rdv_tcp_put_bytes(&t.b, "", 0);
    tcp_end(&t, "mset");
    tcp_begin(&t, RDV_TCP_LIST, 9);
    rdv_tcp_put_bytes(&t.b, "job7/", 5);
    tcp_end(&t, "list");
    tcp_begin(&t, RDV_TCP_STATS, 10);
    tcp_end(&t, "stats");
    /* replies */
    tcp_begin(&t, RDV_TCP_HELLO | RDV_TCP_REPLY, 1);
    rdv_tcp_put_u32(&t.b, 0);
    rdv_tcp_put_u16(&t.b, RDV_TCP_VERSION);
    rdv_tcp_put_u16(&t.b, 0);
    rdv_tcp_put_u32(&t.b, RDV_TCP_BODY_MAX);
    tcp_end(&t, "reply-hello");
    tcp_begin(&t, RDV_TCP_GET | RDV_TCP_REPLY, 3);
    rdv_tcp_put_u32(&t.b, 0);
    rdv_tcp_put_bytes(&t.b, "value", 5);
    tcp_end(&t, "reply-get");
    tcp_begin(&t, RDV_TCP_MGET | RDV_TCP_REPLY, 4);
    rdv_tcp_put_u32(&t.b, (uint32_t)RDV_ETIMEDOUT);
    rdv_tcp_put_bytes(&t.b, "\1\0", 2);
    tcp_end(&t, "reply-mget-timeout");
    tcp_begin(&t, RDV_TCP_CAS | RDV_TCP_REPLY, 7);
    rdv_tcp_put_u32(&t.b, 0);
    rdv_tcp_put_u8(&t.b, 0);
    rdv_tcp_put_u8(&t.b, 1);
    rdv_tcp_put_bytes(&t.b, "cur", 3);
    tcp_end(&t, "reply-cas");
    tcp_begin(&t, RDV_TCP_LIST | RDV_TCP_REPLY, 9);
    rdv_tcp_put_u32(&t.b, 0);
    rdv_tcp_put_u32(&t.b, 1);
    rdv_tcp_put_bytes(&t.b, "job7/a", 6);
    tcp_end(&t, "reply-list");
    tcp_begin(&t, RDV_TCP_STATS | RDV_TCP_REPLY, 10);
    rdv_tcp_put_u32(&t.b, 0);
    rdv_tcp_put_u32(&t.b, 2);
    rdv_tcp_put_u64(&t.b, 1);
    rdv_tcp_put_u64(&t.b, 2);
    tcp_end(&t, "reply-stats");
    tcp_begin(&t, RDV_TCP_SET | RDV_TCP_REPLY, 2);
    rdv_tcp_put_u32(&t.b, (uint32_t)RDV_EEXIST);
    rdv_tcp_put_bytes(&t.b, "key exists", 10);
    tcp_end(&t, "reply-set-exists");
}

/* An exec reply: steering bytes (type, multi_get's key count, split),
 * the header (type u8, status i32, big-endian) and fields. */
typedef struct exec_seed {
    unsigned char p[512];
    size_t len;
} exec_seed;

static void ex_u(exec_seed *e, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        e->p[e->len++] = (unsigned char)(v >> (8 * i));
}

static void ex_bytes(exec_seed *e, const char *s)
{
    ex_u(e, strlen(s), 4);
    memcpy(e->p + e->len, s, strlen(s));
    e->len += strlen(s);
}

static void ex_begin(exec_seed *e, int type, int n, int32_t status)
{
    e->len = 0;
    ex_u(e, (uint64_t)(type - 1), 1); /* fuzz_exec_reply adds 1 */
    ex_u(e, (uint64_t)n, 1);
    ex_u(e, 0x35, 1);
    ex_u(e, (uint64_t)type, 1);
    ex_u(e, (uint32_t)status, 4);
}

static void exec_replies(void)
{
    exec_seed e;

    ex_begin(&e, RDV_EXEC_HELLO, 0, 0);
    ex_bytes(&e, RDV_EXEC_MAGIC);
    ex_u(&e, RDV_EXEC_VERSION, 4);
    ex_u(&e, 2, 4);
    ex_bytes(&e, "ops");
    ex_bytes(&e, "set,get,wait,add");
    ex_bytes(&e, "level");
    ex_bytes(&e, "gloo");
    seed("exec_reply", "hello", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_GET, 0, 0);
    ex_bytes(&e, "value");
    seed("exec_reply", "get", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_GET, 0, RDV_ETIMEDOUT);
    ex_bytes(&e, "get timed out");
    seed("exec_reply", "get-timeout", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_ADD, 0, 0);
    ex_u(&e, (uint64_t)-5, 8);
    seed("exec_reply", "add", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_COMPARE_SET, 0, 0);
    ex_u(&e, 1, 1);
    ex_u(&e, 1, 1);
    ex_bytes(&e, "new");
    seed("exec_reply", "compare_set", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_MULTI_GET, 2, 0);
    ex_u(&e, 2, 4);
    ex_bytes(&e, "a");
    ex_bytes(&e, "");
    seed("exec_reply", "multi_get", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_LIST, 0, 0);
    ex_u(&e, 2, 4);
    ex_bytes(&e, "job7/a");
    ex_bytes(&e, "job7/b");
    seed("exec_reply", "list", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_SET, 0, 0);
    seed("exec_reply", "set", e.p, e.len, NULL, 0);
    ex_begin(&e, RDV_EXEC_SET, 0, 0);
    e.len = 3;
    memcpy(e.p + 3, "Traceback (most recent call last):\n", 35);
    e.len += 35;
    seed("exec_reply", "stray-print", e.p, e.len, NULL, 0);
}

/* A record as the file store writes it: u32 length, u32 its complement
 * (host order), then the bytes; returns the bytes written. */
static size_t file_record(unsigned char *buf, uint32_t len, const char *val,
                          size_t have)
{
    uint32_t check = ~len;

    memcpy(buf, &len, 4);
    memcpy(buf + 4, &check, 4);
    memcpy(buf + 8, val, have);
    return 8 + have;
}

static void file_contents(void)
{
    /* header: u32 magic "RDVL", u32 key length (host order), the key;
     * then records */
    static const char key[] = "job/addr/3", value[] = "the value";
    unsigned char buf[256];
    uint32_t magic = 0x4C564452u, klen = sizeof key - 1;
    size_t n = 0;

    buf[n++] = 1;
    memcpy(buf + n, &magic, 4);
    memcpy(buf + n + 4, &klen, 4);
    n += 8;
    memcpy(buf + n, key, klen);
    n += klen;
    n += file_record(buf + n, sizeof value - 1, value, sizeof value - 1);
    seed("file_store", "value", buf, n, NULL, 0);
    seed("file_store", "truncated", buf, 7, NULL, 0);
    /* then a record whose writer died 2 bytes in */
    seed("file_store", "short-record", buf,
         n + file_record(buf + n, 100, "ab", 2), NULL, 0);
    memset(buf + n, 0, 16); /* then zeros a crash left */
    seed("file_store", "zero-tail", buf, n + 16, NULL, 0);
    klen = 399;
    buf[0] = 2;
    memcpy(buf + 5, &klen, 4);
    memset(buf + 9, 'x', 200);
    seed("file_store", "long-key-short", buf, 209, NULL, 0);
}

/* fuzz_plugin_reply reads a script, not a wire format: byte 0 picks the
 * optional ops, then per call an op byte (set 0, get 1, wait 2, add 3,
 * compare_set 4, delete 5, list 6, multi_get 7, multi_set 8, num_keys 9,
 * delete_prefix 10), a key count and key picks, the call's arguments,
 * then the plugin's replies as it is asked (a status byte below 0x80 is
 * RDV_OK). These seeds are good replies; its regress-* inputs are the
 * bad ones. */
static void plugin_replies(void)
{
    static const uint8_t good[] = {
        0x0f,                                     /* every optional op */
        0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, /* set k=hello: OK */
        1, 0, 1, 0, 0, 3, 'a', 'b', 'c',          /* get a/b: abc */
        2, 2, 0, 1, 2, 0,                         /* wait 3 keys: OK */
        3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1,          /* add +1 */
        0, 0, 0, 0, 0, 0, 0, 0, 42,               /* -> 42 */
        4, 0, 0, 1, 1, 1, 'x', 1, 'y',            /* compare_set x->y */
        0, 200, 0, 1, 'y',                        /* won, cur y */
        5, 0, 3, 0,                               /* delete: OK */
        6, 0, 0, 1, 0, 3, 0, 0, 0, 1, 'a', 0, 0,  /* list p/: 3 keys */
        7, 1, 0, 1, 0, 0, 1, 'v', 4,              /* multi_get: v, "" */
        8, 1, 0, 1, 1, 'a', 0, 0,                 /* multi_set: OK */
        9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,       /* num_keys: 5 */
        10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,   /* delete_prefix: 2 */
    };
    static const uint8_t fallbacks[] = {
        0x00,                                     /* no optional op */
        7, 1, 0, 1, 0, 0, 0, 1, 'v', 0, 4,        /* wait, get, get */
        8, 1, 0, 1, 1, 'a', 0, 0, 0,              /* set, set */
        9, 0, 0, 0, 2, 0, 0, 0, 0,                /* list: 2 keys */
        10, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0,      /* list p/, 2 deletes */
    };
    static const uint8_t failures[] = {
        0x0f,
        1, 0, 0, 0x80 + 4, 2, 5, 'o', 'o', 'p', 's', '\n', /* get: EPROTO */
        2, 0, 1, 0x80, 0,                          /* wait: ETIMEDOUT, "" */
        3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0x80 + 6, 3, /* add: EINVAL */
        4, 0, 0, 0, 0, 0, 0x80 + 2, 4,             /* compare_set: EEXIST */
        6, 0, 0, 0, 0x80 + 10, 2, 0,               /* list: ECANCELED */
    };

    seed("plugin_reply", "good", good, sizeof good, NULL, 0);
    seed("plugin_reply", "fallbacks", fallbacks, sizeof fallbacks, NULL, 0);
    seed("plugin_reply", "failures", failures, sizeof failures, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    records();
    frames();
    tcp_frames();
    exec_replies();
    file_contents();
    plugin_replies();
    return 0;
}
