/*
 * harness/workload_values.c - seeded inputs and their closed forms.
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
 * values are made a chunk at a time into an int64 scratch array, with
 * the op decided once per chunk, and only then converted to (or compared
 * with) the typed buffer in one tight loop per type.
 */
#include <string.h>

#include "workload_values.h"

#define CHUNK 2048

static inline int64_t k_of(uint32_t seed_mix, size_t i)
{
    uint32_t h = (uint32_t)i * 0x9E3779B1u + seed_mix;

    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return (int64_t)(h >> 29) - 4;
}

/* out[j] = rank's input element first + j. */
static void gen_input(const rdv_step *st, uint64_t seed, int rank,
                      int nranks, size_t first, size_t n, int64_t *out)
{
    uint32_t mix = (uint32_t)(seed * 0x85EBCA77u);
    uint64_t un = (uint64_t)nranks, ur = (uint64_t)rank;
    int64_t r = rank, s = (int64_t)(seed % 5);
    int reduce = st->kind == RDV_STEP_ALLREDUCE ||
                 st->kind == RDV_STEP_REDUCE_SCATTER;

    if (!reduce) {
        for (size_t j = 0; j < n; j++)
            out[j] = k_of(mix, first + j) + 8 * r;
    } else if (st->op == RDV_SUM) {
        for (size_t j = 0; j < n; j++)
            out[j] = (r + 1) * k_of(mix, first + j) + s;
    } else if (st->op == RDV_PROD) {
        for (size_t j = 0; j < n; j++)
            out[j] = (first + j + seed) % un == ur ? k_of(mix, first + j) : 1;
    } else {
        for (size_t j = 0; j < n; j++)
            out[j] = k_of(mix, first + j) +
                     (int64_t)((ur + first + j + seed) % un);
    }
}

/* out[j] = the reduction of every rank's element first + j. */
static void gen_reduced(const rdv_step *st, uint64_t seed, int nranks,
                        size_t first, size_t n, int64_t *out)
{
    uint32_t mix = (uint32_t)(seed * 0x85EBCA77u);
    int64_t nn = nranks, a = 1, b = 0;

    switch (st->op) {
    case RDV_SUM: a = nn * (nn + 1) / 2, b = nn * (int64_t)(seed % 5); break;
    case RDV_MAX: b = nn - 1; break;
    default: break;
    }
    for (size_t j = 0; j < n; j++)
        out[j] = a * k_of(mix, first + j) + b;
}

static void store_chunk(void *buf, rdv_dtype t, size_t at, const int64_t *v,
                        size_t n)
{
    switch (t) {
    case RDV_INT32:
        for (size_t j = 0; j < n; j++) ((int32_t *)buf)[at + j] = (int32_t)v[j];
        break;
    case RDV_INT64:
        memcpy((int64_t *)buf + at, v, n * sizeof *v);
        break;
    case RDV_FLOAT:
        for (size_t j = 0; j < n; j++) ((float *)buf)[at + j] = (float)v[j];
        break;
    case RDV_DOUBLE:
        for (size_t j = 0; j < n; j++) ((double *)buf)[at + j] = (double)v[j];
        break;
    }
}

/* Index (within the chunk) of the first element that differs, or n. */
/* Branch-free over the chunk, so the common all-equal case runs as one
 * tight (vectorizable) loop; only a bad chunk is scanned again. */
#define COMPARE_LOOP(T)                                                     \
    do {                                                                    \
        const T *b = (const T *)buf + at;                                   \
        int bad = 0;                                                        \
        for (size_t j = 0; j < n; j++)                                      \
            bad |= b[j] != (T)v[j];                                         \
        for (size_t j = 0; bad && j < n; j++)                               \
            if (b[j] != (T)v[j])                                            \
                return j;                                                   \
    } while (0)

static size_t compare_chunk(const void *buf, rdv_dtype t, size_t at,
                            const int64_t *v, size_t n)
{
    switch (t) {
    case RDV_INT32: COMPARE_LOOP(int32_t); break;
    case RDV_INT64: COMPARE_LOOP(int64_t); break;
    case RDV_FLOAT: COMPARE_LOOP(float); break;
    case RDV_DOUBLE: COMPARE_LOOP(double); break;
    }
    return n;
}

void rdv_values_fill(void *buf, const rdv_step *st, uint64_t seed, int rank,
                     int nranks, size_t count)
{
    int64_t v[CHUNK];

    for (size_t at = 0; at < count; at += CHUNK) {
        size_t n = count - at < CHUNK ? count - at : CHUNK;

        gen_input(st, seed, rank, nranks, at, n, v);
        store_chunk(buf, st->type, at, v, n);
    }
}

size_t rdv_values_check(const void *buf, const rdv_step *st, uint64_t seed,
                        int nranks, rdv_expect_kind kind, int rank,
                        size_t first, size_t n, int64_t *want)
{
    int64_t v[CHUNK];

    for (size_t at = 0; at < n; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK, bad;

        if (kind == RDV_EXPECT_REDUCED)
            gen_reduced(st, seed, nranks, first + at, m, v);
        else
            gen_input(st, seed, rank, nranks, first + at, m, v);
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
    int64_t c[CHUNK];

    for (size_t j = 0; j < CHUNK; j++)
        c[j] = v;
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
