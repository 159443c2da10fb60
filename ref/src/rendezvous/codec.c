/*
 * rendezvous/codec.c - encoder and validating decoder for the address
 * record and the handshake (layouts below). No I/O and no allocation:
 * the decoder only looks at the bytes it is given, so anything a store
 * or a stranger on the port hands it is safe to feed.
 *
 * Record, 128 bytes, little-endian:
 *    0 magic "RDVR"   4 version u16   6 length u16 (128)
 *    8 rank u32      12 size u32     16 family u16 (4 or 6)
 *   18 port u16      20 pid u32      24 nonce u64    32 token u64
 *   40 addr[16]      56 hostname[64], NUL-padded    120 fnv1a64(0..119)
 *
 * Hello, 40 bytes:
 *    0 magic "RDVH"   4 version u16   6 kind u16      8 rank u32
 *   12 size u32      16 token u64    24 nonce u64    32 fnv1a64(0..31)
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "fnv.h"
#include "rdv/status.h"

#define RECORD_MAGIC 0x52564452u /* "RDVR" read as little-endian */
#define HELLO_MAGIC 0x48564452u  /* "RDVH" */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t fnv1a(const void *data, size_t len)
{
    return rdv_fnv1a(RDV_FNV1A_BASIS, data, len);
}

uint64_t rdv_job_token(const char *job)
{
    uint64_t h = fnv1a(job, strlen(job));

    return h ? h : 1;
}

void rdv_record_encode(const rdv_record *r, uint8_t out[RDV_RECORD_SIZE])
{
    memset(out, 0, RDV_RECORD_SIZE);
    put32(out, RECORD_MAGIC);
    put16(out + 4, RDV_RECORD_VERSION);
    put16(out + 6, RDV_RECORD_SIZE);
    put32(out + 8, r->rank);
    put32(out + 12, r->size);
    put16(out + 16, r->family == AF_INET6 ? 6 : 4);
    put16(out + 18, r->port);
    put32(out + 20, r->pid);
    put64(out + 24, r->nonce);
    put64(out + 32, r->token);
    memcpy(out + 40, r->addr, 16);
    memcpy(out + 56, r->hostname, strnlen(r->hostname, RDV_HOSTNAME_MAX));
    put64(out + 120, fnv1a(out, 120));
}

/* The header checks both formats share. */
static int check_header(const uint8_t *p, size_t len, size_t want,
                        uint32_t magic, const char *what, char *why,
                        size_t whylen)
{
    if (len != want) {
        snprintf(why, whylen, "%s is %zu bytes, expected %zu", what, len,
                 want);
        return RDV_EPROTO;
    }
    if (get32(p) != magic) {
        snprintf(why, whylen, "%s has bad magic 0x%08x", what,
                 (unsigned)get32(p));
        return RDV_EPROTO;
    }
    if (get16(p + 4) != RDV_RECORD_VERSION) {
        snprintf(why, whylen, "%s has version %u, this build speaks %u",
                 what, (unsigned)get16(p + 4), RDV_RECORD_VERSION);
        return RDV_EPROTO;
    }
    if (get64(p + want - 8) != fnv1a(p, want - 8)) {
        snprintf(why, whylen, "%s checksum mismatch (corrupt or torn)",
                 what);
        return RDV_EPROTO;
    }
    return RDV_OK;
}

int rdv_record_decode(const void *buf, size_t len, rdv_record *out,
                      char *why, size_t whylen)
{
    const uint8_t *p = buf;
    uint16_t fam;
    int ret = check_header(p, len, RDV_RECORD_SIZE, RECORD_MAGIC, "record",
                           why, whylen);

    if (ret != RDV_OK)
        return ret;
    if (get16(p + 6) != RDV_RECORD_SIZE) {
        snprintf(why, whylen, "record says it is %u bytes",
                 (unsigned)get16(p + 6));
        return RDV_EPROTO;
    }
    memset(out, 0, sizeof *out);
    out->rank = get32(p + 8);
    out->size = get32(p + 12);
    fam = get16(p + 16);
    out->port = get16(p + 18);
    out->pid = get32(p + 20);
    out->nonce = get64(p + 24);
    out->token = get64(p + 32);
    memcpy(out->addr, p + 40, 16);
    if (fam != 4 && fam != 6) {
        snprintf(why, whylen, "record has address family %u", fam);
        return RDV_EPROTO;
    }
    out->family = fam == 6 ? AF_INET6 : AF_INET;
    if (out->port == 0 || out->size == 0 || out->rank >= out->size) {
        snprintf(why, whylen, "record has port %u, rank %u, size %u",
                 (unsigned)out->port, (unsigned)out->rank,
                 (unsigned)out->size);
        return RDV_EPROTO;
    }
    for (size_t i = 0; i < RDV_HOSTNAME_MAX + 1; i++) {
        unsigned char c = p[56 + i];

        if (c == 0)
            break;
        if (c < 0x20 || c == 0x7f || i == RDV_HOSTNAME_MAX) {
            snprintf(why, whylen, "record hostname is not printable text");
            return RDV_EPROTO;
        }
        out->hostname[i] = (char)c;
    }
    return RDV_OK;
}

int rdv_record_check(const rdv_record *r, uint32_t key_rank, uint32_t size,
                     uint64_t token, char *why, size_t whylen)
{
    if (r->rank != key_rank) {
        snprintf(why, whylen, "the key of rank %u holds a record for rank %u",
                 (unsigned)key_rank, (unsigned)r->rank);
        return RDV_EPROTO;
    }
    if (r->size != size) {
        snprintf(why, whylen, "record says the job has %u ranks, not %u",
                 (unsigned)r->size, (unsigned)size);
        return RDV_EPROTO;
    }
    if (r->token != token) {
        snprintf(why, whylen, "record carries job token %016llx, not %016llx",
                 (unsigned long long)r->token, (unsigned long long)token);
        return RDV_EPROTO;
    }
    return RDV_OK;
}

socklen_t rdv_record_sockaddr(const rdv_record *r,
                              struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (r->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons(r->port);
        memcpy(&a->sin6_addr, r->addr, 16);
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;

    a->sin_family = AF_INET;
    a->sin_port = htons(r->port);
    memcpy(&a->sin_addr, r->addr, 4);
    return sizeof *a;
}

int rdv_record_set_addr(rdv_record *r, const struct sockaddr_storage *ss)
{
    memset(r->addr, 0, sizeof r->addr);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

        memcpy(r->addr, &a->sin6_addr, 16);
        r->port = ntohs(a->sin6_port);
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

        memcpy(r->addr, &a->sin_addr, 4);
        r->port = ntohs(a->sin_port);
    } else {
        return RDV_EINVAL;
    }
    r->family = ss->ss_family;
    return RDV_OK;
}

void rdv_hello_encode(const rdv_hello *h, uint8_t out[RDV_HELLO_SIZE])
{
    put32(out, HELLO_MAGIC);
    put16(out + 4, RDV_RECORD_VERSION);
    put16(out + 6, h->kind);
    put32(out + 8, h->rank);
    put32(out + 12, h->size);
    put64(out + 16, h->token);
    put64(out + 24, h->nonce);
    put64(out + 32, fnv1a(out, 32));
}

int rdv_hello_decode(const void *buf, size_t len, rdv_hello *out, char *why,
                     size_t whylen)
{
    const uint8_t *p = buf;
    int ret = check_header(p, len, RDV_HELLO_SIZE, HELLO_MAGIC, "handshake",
                           why, whylen);

    if (ret != RDV_OK)
        return ret;
    out->kind = get16(p + 6);
    out->rank = get32(p + 8);
    out->size = get32(p + 12);
    out->token = get64(p + 16);
    out->nonce = get64(p + 24);
    if (out->kind != RDV_HELLO_CONNECT && out->kind != RDV_HELLO_ACCEPT) {
        snprintf(why, whylen, "handshake has unknown kind %u",
                 (unsigned)out->kind);
        return RDV_EPROTO;
    }
    if (out->size == 0 || out->rank >= out->size) {
        snprintf(why, whylen, "handshake claims rank %u of %u",
                 (unsigned)out->rank, (unsigned)out->size);
        return RDV_EPROTO;
    }
    return RDV_OK;
}
