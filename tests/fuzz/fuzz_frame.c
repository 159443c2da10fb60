/*
 * tests/fuzz/fuzz_frame.c - the data plane's frame header and ABORT
 * payload (transport/frame.c), read from every peer on every message.
 *
 * Input: a 16-byte header, then an ABORT payload.
 *
 * Properties: a header that decodes re-encodes to the very same 16
 * bytes (every bit is a field); one that does not hands back its first
 * word for the message. An ABORT payload within bounds parses to a
 * culprit and one line of text, and rdv_frame_abort writes a frame that
 * parses back to the same two.
 */
#include "fuzz.h"
#include "transport/frame.h"

static void check_abort(const uint8_t *payload, size_t len)
{
    unsigned char frame[RDV_FRAME_HDR + RDV_FRAME_ABORT_MAX];
    char why[RDV_FRAME_ABORT_MAX], again[RDV_FRAME_ABORT_MAX];
    int culprit, back;
    size_t n;
    rdv_frame f;
    uint32_t raw;

    if (rdv_frame_abort_parse(payload, len, &culprit, why, sizeof why)) {
        FUZZ_CHECK(len < 4 || len > RDV_FRAME_ABORT_MAX,
                   "a %zu-byte ABORT payload refused", len);
        return;
    }
    for (const char *c = why; *c; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20, "a control byte in a reason");
    n = rdv_frame_abort(frame, 7, culprit, why);
    FUZZ_CHECK(n >= RDV_FRAME_HDR + 4 && n <= sizeof frame &&
                   rdv_frame_decode(frame, &f, &raw) == 0 &&
                   f.kind == RDV_FRAME_ABORT && f.seq == 7 &&
                   f.len == n - RDV_FRAME_HDR,
               "rdv_frame_abort wrote a bad header");
    FUZZ_CHECK(rdv_frame_abort_parse(frame + RDV_FRAME_HDR, (size_t)f.len,
                                     &back, again, sizeof again) == 0 &&
                   back == culprit && strcmp(why, again) == 0,
               "an ABORT changes in a round trip: '%s' / '%s'", why, again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char hdr[RDV_FRAME_HDR], again[RDV_FRAME_HDR];
    uint8_t *payload;
    rdv_frame f;
    uint32_t raw = 0;

    if (size < RDV_FRAME_HDR)
        return 0;
    memcpy(hdr, data, sizeof hdr);
    if (rdv_frame_decode(hdr, &f, &raw) == 0) {
        rdv_frame_encode(again, f.kind, f.seq, f.len);
        FUZZ_CHECK(memcmp(hdr, again, sizeof hdr) == 0,
                   "a header changes in a round trip");
    } else {
        FUZZ_CHECK(raw == ((uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 |
                           (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24),
                   "a refused header's first word is not handed back");
    }
    /* exact size: ASan sees any overread */
    payload = malloc(size - RDV_FRAME_HDR + 1);
    if (!payload)
        abort();
    memcpy(payload, data + RDV_FRAME_HDR, size - RDV_FRAME_HDR);
    check_abort(payload, size - RDV_FRAME_HDR);
    free(payload);
    return 0;
}
