/*
 * fnv.h - the one FNV-1a hash librdv uses: the record and handshake
 * checksums (rendezvous/codec.c), the duplicate-endpoint fingerprint
 * (rendezvous/records.c), the hash store's buckets (stores/hash.c) and
 * the file store's names for long keys (stores/file_name.c).
 *
 * Choices:
 * - 64-bit FNV-1a: tiny, no table, good enough spread for these sizes.
 *   None of its users needs resistance to a chosen input: a checksum
 *   guards against torn or foreign bytes, a bucket against skew, and a
 *   file name's collision is caught by the key kept in the file.
 * - static inline in an internal header: one definition, no symbol in
 *   the library's table, and usable by the codec on its own (a fuzzer
 *   builds codec.c with nothing else).
 * - The running hash is the first argument, so a caller can seed it
 *   (RDV_FNV1A_BASIS, or the basis folded with fields already hashed)
 *   or hash pieces one after another.
 */
#ifndef RDV_FNV_H
#define RDV_FNV_H

#include <stddef.h>
#include <stdint.h>

#define RDV_FNV1A_BASIS 0xcbf29ce484222325ull /* FNV offset basis */
#define RDV_FNV1A_PRIME 0x100000001b3ull

/* h folded with len bytes at data, FNV-1a. */
static inline uint64_t rdv_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * RDV_FNV1A_PRIME;
    return h;
}

#endif
