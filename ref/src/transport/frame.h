/*
 * transport/frame.h - the data plane's frame header codec (frame.c),
 * bytes in and values out, no I/O, so the transport and the tests share
 * it unchanged.
 *
 * Every message the data plane moves (rdv_request sends and recvs; not
 * the rendezvous handshake) is one frame: a 16-byte header, then the
 * payload. Little-endian on the wire:
 *
 *   u32 magic_kind  "rdv" in the top 24 bits, the kind in the low 8
 *   u32 seq         frames sent before this one, per peer and direction
 *   u64 len         payload bytes that follow
 *
 * DATA carries a request's bytes. ABORT is the last frame a failing
 * rank puts on a connection: its payload is a u32 culprit rank and a
 * short reason (not NUL-terminated), at most RDV_FRAME_ABORT_MAX bytes.
 */
#ifndef RDV_TRANSPORT_FRAME_H
#define RDV_TRANSPORT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define RDV_FRAME_HDR 16
#define RDV_FRAME_ABORT_MAX 256

typedef enum rdv_frame_kind {
    RDV_FRAME_DATA = 1,
    RDV_FRAME_ABORT = 2,
} rdv_frame_kind;

typedef struct rdv_frame {
    rdv_frame_kind kind;
    uint32_t seq;
    uint64_t len;
} rdv_frame;

/* Writes the header into out[RDV_FRAME_HDR]. */
void rdv_frame_encode(unsigned char *out, rdv_frame_kind kind, uint32_t seq,
                      uint64_t len);

/* Reads a header. 0, or -1 when the magic or the kind is wrong (then
 * *raw holds the first word, for the error message). */
int rdv_frame_decode(const unsigned char *in, rdv_frame *f, uint32_t *raw);

/* A whole ABORT frame (header and payload) into out, which must hold
 * RDV_FRAME_HDR + RDV_FRAME_ABORT_MAX bytes; the reason is cut to fit.
 * Returns the frame's length. */
size_t rdv_frame_abort(unsigned char *out, uint32_t seq, int culprit,
                       const char *reason);

/* The culprit and the reason (NUL-terminated into why[cap]) of an
 * ABORT payload of len bytes. -1 when len is out of bounds. */
int rdv_frame_abort_parse(const unsigned char *payload, size_t len,
                          int *culprit, char *why, size_t cap);

#endif
