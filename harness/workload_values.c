/*
 * harness/workload_values.c - seeded inputs and their closed forms.
 *
 * k(seed, i) is a hashed small integer in [-4, 3]. Per op, rank r's
 * element i is built so the N-rank result is a formula in k:
 *   sum   (r + 1) * k + s           -> k * N(N+1)/2 + N*s  (s = seed % 5)
 *   prod  k on rank (i+seed) % N, 1 elsewhere             -> k
 *   min   k + (r + i + seed) % N                          -> k
 *   max   the same inputs                                 -> k + N - 1
 * Broadcast and allgather use k shifted by the sending rank. The largest
 * magnitude (sum, N = 64) is far below 2^24, so floats stay exact.
 */
#include <string.h>

#include "workload_values.h"

static int64_t k_of(uint64_t seed, size_t i)
{
    uint32_t h = (uint32_t)i * 0x9E3779B1u + (uint32_t)(seed * 0x85EBCA77u);

    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return (int64_t)(h >> 29) - 4;
}

int64_t rdv_value_input(const rdv_step *st, uint64_t seed, int rank,
                        int nranks, size_t i)
{
    int64_t k = k_of(seed, i), n = nranks, r = rank;

    switch (st->kind) {
    case RDV_STEP_ALLREDUCE:
    case RDV_STEP_REDUCE_SCATTER:
        switch (st->op) {
        case RDV_SUM:
            return (r + 1) * k + (int64_t)(seed % 5);
        case RDV_PROD:
            return (int64_t)((i + seed) % (uint64_t)n) == r ? k : 1;
        default:
            return k + (int64_t)(((uint64_t)r + i + seed) % (uint64_t)n);
        }
    case RDV_STEP_BROADCAST:
    case RDV_STEP_ALLGATHER:
        return k + 8 * r;
    default:
        return 0;
    }
}

int64_t rdv_value_reduced(const rdv_step *st, uint64_t seed, int nranks,
                          size_t i)
{
    int64_t k = k_of(seed, i), n = nranks;

    switch (st->op) {
    case RDV_SUM:
        return k * n * (n + 1) / 2 + n * (int64_t)(seed % 5);
    case RDV_PROD:
    case RDV_MIN:
        return k;
    default:
        return k + n - 1;
    }
}

void rdv_value_store(void *buf, rdv_dtype t, size_t i, int64_t v)
{
    switch (t) {
    case RDV_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case RDV_INT64: ((int64_t *)buf)[i] = v; break;
    case RDV_FLOAT: ((float *)buf)[i] = (float)v; break;
    case RDV_DOUBLE: ((double *)buf)[i] = (double)v; break;
    }
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

void rdv_values_fill(void *buf, const rdv_step *st, uint64_t seed, int rank,
                     int nranks, size_t count)
{
    for (size_t i = 0; i < count; i++)
        rdv_value_store(buf, st->type, i,
                        rdv_value_input(st, seed, rank, nranks, i));
}

uint64_t rdv_digest(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t h = 0x243F6A8885A308D3ull ^ len, w;
    size_t i = 0;

    /* Word at a time: a 4 MiB output costs well under a millisecond. */
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001B3ull;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h ^ (h >> 32);
}
