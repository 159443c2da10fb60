/*
 * harness/workload/workload_values.c - seeded inputs and their closed forms.
 *
 * k(seed, i) is a hashed small integer in [-4, 3]. Per op, rank r's
 * element i is built so the N-rank result is a formula in k:
 *   sum   (r + 1) * k + s           -> k * N(N+1)/2 + N*s  (s = seed % 5)
 *   prod  k on rank (i+seed) % N, 1 elsewhere             -> k
 *   min   k + (r + i + seed) % N                          -> k
 *   max   the same inputs                                 -> k + N - 1
 * Broadcast and allgather send k + 8r. The largest magnitude (sum,
 * N = 64) is far below 2^24, so floats stay exact.
 *
 * Speed matters here: a 1M-element step is filled and checked on every
 * rank of every run, and `rdv run --repeat` is a race-hunting loop. So
 * values are made a chunk at a time into an int32 scratch array (every
 * value fits), with the op decided once per chunk, and only then
 * converted to (or compared with) the typed buffer in one tight loop
 * per type. Element indices enter the hash as 32 bits: counts are
 * capped at 2^30 by the workload parser.
 */
#include <string.h>

#include "workload/workload_values.h"

#define CHUNK 2048

/* Every loop below over a whole chunk has a constant trip count and no
 * early exit, so the compiler vectorizes it even at -O2; only a final
 * partial chunk takes the scalar path. */

static inline int32_t k_of(uint32_t seed_mix, uint32_t i)
{
    uint32_t h = i * 0x9E3779B1u + seed_mix;

    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return (int32_t)(h >> 29) - 4;
}

static uint32_t seed_mix(uint64_t seed)
{
    return (uint32_t)(seed * 0x85EBCA77u);
}

/* out[j] = a * k(first + j) + b for a whole chunk. */
static void gen_affine(uint32_t mix, size_t first, int32_t a, int32_t b,
                       int32_t *out)
{
    uint32_t f = (uint32_t)first;

    for (uint32_t j = 0; j < CHUNK; j++)
        out[j] = a * k_of(mix, f + j) + b;
}

/* out[j] = k(first + j) + (start + j) % n, the min/max inputs; the
 * modulo is carried from element to element instead of divided. */
static void gen_rotating(uint32_t mix, size_t first, uint64_t start,
                         uint64_t n, int32_t *out)
{
    uint32_t f = (uint32_t)first, c = (uint32_t)(start % n);

    for (uint32_t j = 0; j < CHUNK; j++) {
        out[j] = k_of(mix, f + j) + (int32_t)c;
        c = c + 1 == n ? 0 : c + 1;
    }
}

/* out[j] = k on the element's owning rank ((first + j + seed) % n ==
 * rank), 1 on every other rank: the prod inputs. */
static void gen_owner(uint32_t mix, size_t first, uint64_t seed, int rank,
                      uint64_t n, int32_t *out)
{
    uint32_t f = (uint32_t)first, c = (uint32_t)((first + seed) % n);

    for (uint32_t j = 0; j < CHUNK; j++) {
        out[j] = c == (uint32_t)rank ? k_of(mix, f + j) : 1;
        c = c + 1 == n ? 0 : c + 1;
    }
}

/* out[j] = rank's input element first + j, for a whole chunk. */
static void gen_input(const rdv_step *st, uint64_t seed, int rank,
                      int nranks, size_t first, int32_t *out)
{
    uint32_t mix = seed_mix(seed);
    uint64_t n = (uint64_t)nranks;
    int reduce = st->kind == RDV_STEP_ALLREDUCE ||
                 st->kind == RDV_STEP_REDUCE_SCATTER;

    if (!reduce)
        gen_affine(mix, first, 1, 8 * rank, out);
    else if (st->op == RDV_SUM)
        gen_affine(mix, first, rank + 1, (int32_t)(seed % 5), out);
    else if (st->op == RDV_PROD)
        gen_owner(mix, first, seed, rank, n, out);
    else
        gen_rotating(mix, first, (uint64_t)rank + first + seed, n, out);
}

/* out[j] = the reduction of every rank's element first + j. */
static void gen_reduced(const rdv_step *st, uint64_t seed, int nranks,
                        size_t first, int32_t *out)
{
    int32_t n = nranks, a = 1, b = 0;

    switch (st->op) {
    case RDV_SUM: a = n * (n + 1) / 2, b = n * (int32_t)(seed % 5); break;
    case RDV_MAX: b = n - 1; break;
    default: break;
    }
    gen_affine(seed_mix(seed), first, a, b, out);
}

#define STORE_LOOP(T, cnt)                                                  \
    for (size_t j = 0; j < (cnt); j++)                                      \
        ((T *)buf)[at + j] = (T)v[j]

static void store_chunk(void *buf, rdv_dtype t, size_t at, const int32_t *v,
                        size_t n)
{
    size_t cnt = n == CHUNK ? CHUNK : n; /* constant when full */

    switch (t) {
    case RDV_INT32:
        if (n == CHUNK) { STORE_LOOP(int32_t, CHUNK); }
        else { STORE_LOOP(int32_t, cnt); }
        break;
    case RDV_INT64:
        if (n == CHUNK) { STORE_LOOP(int64_t, CHUNK); }
        else { STORE_LOOP(int64_t, cnt); }
        break;
    case RDV_FLOAT:
        if (n == CHUNK) { STORE_LOOP(float, CHUNK); }
        else { STORE_LOOP(float, cnt); }
        break;
    case RDV_DOUBLE:
        if (n == CHUNK) { STORE_LOOP(double, CHUNK); }
        else { STORE_LOOP(double, cnt); }
        break;
    }
}

/* Branch-free over the chunk, so the common all-equal case runs as one
 * tight loop; only a bad chunk is scanned again for the culprit. */
#define COMPARE_LOOP(T, cnt)                                                \
    do {                                                                    \
        const T *b = (const T *)buf + at;                                   \
        int bad = 0;                                                        \
        for (size_t j = 0; j < (cnt); j++)                                  \
            bad |= b[j] != (T)v[j];                                         \
        for (size_t j = 0; bad && j < (cnt); j++)                           \
            if (b[j] != (T)v[j])                                            \
                return j;                                                   \
    } while (0)

#define COMPARE_ANY(T)                                                      \
    do {                                                                    \
        if (n == CHUNK)                                                     \
            COMPARE_LOOP(T, CHUNK);                                         \
        else                                                                \
            COMPARE_LOOP(T, n);                                             \
    } while (0)

/* Index (within the chunk) of the first element that differs, or n. */
static size_t compare_chunk(const void *buf, rdv_dtype t, size_t at,
                            const int32_t *v, size_t n)
{
    switch (t) {
    case RDV_INT32: COMPARE_ANY(int32_t); break;
    case RDV_INT64: COMPARE_ANY(int64_t); break;
    case RDV_FLOAT: COMPARE_ANY(float); break;
    case RDV_DOUBLE: COMPARE_ANY(double); break;
    }
    return n;
}

void rdv_values_fill(void *buf, const rdv_step *st, uint64_t seed, int rank,
                     int nranks, size_t count)
{
    int32_t v[CHUNK];

    for (size_t at = 0; at < count; at += CHUNK) {
        size_t n = count - at < CHUNK ? count - at : CHUNK;

        gen_input(st, seed, rank, nranks, at, v);
        store_chunk(buf, st->type, at, v, n);
    }
}

size_t rdv_values_check(const void *buf, const rdv_step *st, uint64_t seed,
                        int nranks, rdv_expect_kind kind, int rank,
                        size_t first, size_t n, int64_t *want)
{
    int32_t v[CHUNK];

    for (size_t at = 0; at < n; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK, bad;

        if (kind == RDV_EXPECT_REDUCED)
            gen_reduced(st, seed, nranks, first + at, v);
        else
            gen_input(st, seed, rank, nranks, first + at, v);
        bad = compare_chunk(buf, st->type, at, v, m);
        if (bad < m) {
            *want = v[bad];
            return at + bad;
        }
    }
    return n;
}

double rdv_value_load(const void *buf, rdv_dtype t, size_t i)
{
    switch (t) {
    case RDV_INT32: return ((const int32_t *)buf)[i];
    case RDV_INT64: return (double)((const int64_t *)buf)[i];
    case RDV_FLOAT: return ((const float *)buf)[i];
    case RDV_DOUBLE: return ((const double *)buf)[i];
    }
    return 0;
}

void rdv_value_put(void *buf, rdv_dtype t, size_t i, double v)
{
    switch (t) {
    case RDV_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case RDV_INT64: ((int64_t *)buf)[i] = (int64_t)v; break;
    case RDV_FLOAT: ((float *)buf)[i] = (float)v; break;
    case RDV_DOUBLE: ((double *)buf)[i] = v; break;
    }
}

void rdv_values_set_all(void *buf, rdv_dtype t, size_t n, int64_t v)
{
    int32_t c[CHUNK];

    for (size_t j = 0; j < CHUNK; j++)
        c[j] = (int32_t)v;
    for (size_t at = 0; at < n; at += CHUNK)
        store_chunk(buf, t, at, c, n - at < CHUNK ? n - at : CHUNK);
}

uint64_t rdv_digest(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t h[4] = {0x243F6A8885A308D3ull ^ len, 0x13198A2E03707344ull,
                     0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
    size_t i = 0;

    /* Four independent lanes, eight bytes each: the multiplies overlap,
     * so a 4 MiB output costs a fraction of a millisecond. */
    for (; i + 32 <= len; i += 32) {
        for (int l = 0; l < 4; l++) {
            uint64_t w;

            memcpy(&w, p + i + 8 * (size_t)l, 8);
            h[l] = (h[l] ^ w) * 0x100000001B3ull;
            h[l] ^= h[l] >> 29;
        }
    }
    for (; i < len; i++)
        h[0] = (h[0] ^ p[i]) * 0x100000001B3ull;
    h[0] ^= h[1] * 0x9E3779B97F4A7C15ull ^ h[2] * 0xC2B2AE3D27D4EB4Full ^
            h[3] * 0x165667B19E3779F9ull;
    return h[0] ^ (h[0] >> 32);
}
