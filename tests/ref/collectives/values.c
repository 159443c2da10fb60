/*
 * values.c - test inputs and closed-form expectations (see values.h).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fnv.h" /* librdv's, ref/src */
#include "values.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t seed, int rank, size_t i)
{
    return mix(seed * 0x100000001b3ull ^ mix((uint64_t)rank << 40 ^ i));
}

static int64_t ival(rdv_dtype t, uint64_t seed, int rank, size_t i)
{
    uint64_t h = rnd(seed, rank, i);

    return t == RDV_INT32 ? (int64_t)(int32_t)(uint32_t)h : (int64_t)h;
}

/* The value as stored in type t (float rounding included). */
static long double fval(rdv_dtype t, rdv_op op, uint64_t seed, int rank,
                        size_t i)
{
    static const double prods[] = {-2, -1, -0.5, 0.5, 1, 2};
    uint64_t h = rnd(seed, rank, i);
    double d;

    if (op == RDV_SUM)
        d = ((double)(h % 2001) - 1000.0) / 1000.0;
    else if (op == RDV_PROD)
        d = prods[h % 6];
    else
        d = ((double)(h % 20001) - 10000.0) / 7.0;
    return t == RDV_FLOAT ? (long double)(float)d : (long double)d;
}

void values_fill(void *buf, rdv_dtype t, rdv_op op, uint64_t seed, int rank,
                 size_t off, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = off + k;
        switch (t) {
        case RDV_INT32:
            ((int32_t *)buf)[k] = (int32_t)ival(t, seed, rank, i);
            break;
        case RDV_INT64:
            ((int64_t *)buf)[k] = ival(t, seed, rank, i);
            break;
        case RDV_FLOAT:
            ((float *)buf)[k] = (float)fval(t, op, seed, rank, i);
            break;
        case RDV_DOUBLE:
            ((double *)buf)[k] = (double)fval(t, op, seed, rank, i);
            break;
        }
    }
}

static uint64_t ref_int(rdv_dtype t, rdv_op op, uint64_t seed, int n,
                        size_t i)
{
    uint64_t acc = (uint64_t)ival(t, seed, 0, i);
    int64_t m = ival(t, seed, 0, i);

    for (int r = 1; r < n; r++) {
        int64_t v = ival(t, seed, r, i);
        acc = op == RDV_SUM ? acc + (uint64_t)v : acc * (uint64_t)v;
        if (op == RDV_MIN ? v < m : v > m)
            m = v;
    }
    if (op == RDV_MIN || op == RDV_MAX)
        acc = (uint64_t)m;
    return t == RDV_INT32 ? (uint32_t)acc : acc;
}

static uint64_t got_int(const void *buf, rdv_dtype t, size_t k)
{
    return t == RDV_INT32 ? (uint32_t)((const int32_t *)buf)[k]
                          : (uint64_t)((const int64_t *)buf)[k];
}

static long double got_float(const void *buf, rdv_dtype t, size_t k)
{
    return t == RDV_FLOAT ? ((const float *)buf)[k]
                          : ((const double *)buf)[k];
}

/* Float expectation: the exact reference and the allowed error. */
static long double ref_float(rdv_dtype t, rdv_op op, uint64_t seed, int n,
                             size_t i, long double *tol)
{
    long double acc = fval(t, op, seed, 0, i), mag = fabsl(acc);

    for (int r = 1; r < n; r++) {
        long double v = fval(t, op, seed, r, i);
        if (op == RDV_SUM)
            acc += v;
        else if (op == RDV_PROD)
            acc *= v;
        else if (op == RDV_MIN ? v < acc : v > acc)
            acc = v;
        mag += fabsl(v);
    }
    *tol = op == RDV_SUM
               ? n * (t == RDV_FLOAT ? FLT_EPSILON : DBL_EPSILON) * mag
               : 0;
    return acc;
}

int values_check_reduced(const void *buf, rdv_dtype t, rdv_op op,
                         uint64_t seed, int nranks, size_t off, size_t n,
                         char *why, size_t len)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = off + k;
        if (t == RDV_INT32 || t == RDV_INT64) {
            uint64_t want = ref_int(t, op, seed, nranks, i);
            uint64_t got = got_int(buf, t, k);
            if (got != want) {
                snprintf(why, len, "element %zu = %#llx, want %#llx", i,
                         (unsigned long long)got, (unsigned long long)want);
                return 1;
            }
        } else {
            long double tol, want = ref_float(t, op, seed, nranks, i, &tol);
            long double got = got_float(buf, t, k);
            if (!(fabsl(got - want) <= tol)) {
                snprintf(why, len, "element %zu = %.17Lg, want %.17Lg +- %Lg",
                         i, got, want, tol);
                return 1;
            }
        }
    }
    return 0;
}

int values_check_input(const void *buf, rdv_dtype t, rdv_op op,
                       uint64_t seed, int rank, size_t off, size_t n,
                       char *why, size_t len)
{
    size_t es = rdv_dtype_size(t);
    unsigned char want[8];

    for (size_t k = 0; k < n; k++) {
        values_fill(want, t, op, seed, rank, off + k, 1);
        if (memcmp((const char *)buf + k * es, want, es) != 0) {
            snprintf(why, len, "element %zu of rank %d's input differs",
                     off + k, rank);
            return 1;
        }
    }
    return 0;
}

uint64_t values_digest(const void *buf, size_t bytes)
{
    return rdv_fnv1a(RDV_FNV1A_BASIS, buf, bytes);
}
