/*
 * transport/frame.c - encode and decode the data plane's frame headers
 * and ABORT payloads (see frame.h). Pure functions: no I/O, no state,
 * so a malformed header from a stranger is a value to report, never a
 * crash.
 */
#include <string.h>

#include "frame.h"

#define FRAME_MAGIC 0x72647600u /* "rdv\0" */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void rdv_frame_encode(unsigned char *out, rdv_frame_kind kind, uint32_t seq,
                      uint64_t len)
{
    put32(out, FRAME_MAGIC | (uint32_t)kind);
    put32(out + 4, seq);
    put32(out + 8, (uint32_t)len);
    put32(out + 12, (uint32_t)(len >> 32));
}

int rdv_frame_decode(const unsigned char *in, rdv_frame *f, uint32_t *raw)
{
    uint32_t w = get32(in);
    uint32_t kind = w & 0xff;

    *raw = w;
    if ((w & ~0xffu) != FRAME_MAGIC ||
        (kind != RDV_FRAME_DATA && kind != RDV_FRAME_ABORT))
        return -1;
    f->kind = (rdv_frame_kind)kind;
    f->seq = get32(in + 4);
    f->len = (uint64_t)get32(in + 8) | (uint64_t)get32(in + 12) << 32;
    return 0;
}

size_t rdv_frame_abort(unsigned char *out, uint32_t seq, int culprit,
                       const char *reason)
{
    size_t n = strlen(reason);

    if (n > RDV_FRAME_ABORT_MAX - 4)
        n = RDV_FRAME_ABORT_MAX - 4;
    rdv_frame_encode(out, RDV_FRAME_ABORT, seq, 4 + n);
    put32(out + RDV_FRAME_HDR, (uint32_t)culprit);
    memcpy(out + RDV_FRAME_HDR + 4, reason, n);
    return RDV_FRAME_HDR + 4 + n;
}

int rdv_frame_abort_parse(const unsigned char *payload, size_t len,
                          int *culprit, char *why, size_t cap)
{
    size_t n;

    if (len < 4 || len > RDV_FRAME_ABORT_MAX || cap == 0)
        return -1;
    *culprit = (int)get32(payload);
    n = len - 4 < cap - 1 ? len - 4 : cap - 1;
    memcpy(why, payload + 4, n);
    why[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)why[i] < 0x20)
            why[i] = '?'; /* a reason is one line of text */
    return 0;
}
