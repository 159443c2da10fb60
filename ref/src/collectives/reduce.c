/*
 * collectives/reduce.c - the typed reduction kernels and the dtype/op
 * tables.
 *
 * One X-macro expands the 4 types x 4 ops kernels, so the sixteen loops
 * cannot drift apart. Each kernel is element-wise (out[i] = a[i] op b[i])
 * and never reassociates, so the compiler may vectorise it without
 * changing a single bit; the order in which partial results meet is the
 * algorithms' business, not the kernels'.
 *
 * Integer sum and prod are computed in the matching unsigned type: they
 * wrap modulo 2^bits instead of being undefined behaviour, and the
 * conversion back is GCC's documented modulo conversion.
 */
#include <stdint.h>

#include "collectives/coll_internal.h"

#define RDV_WRAP_SUM(U, x, y) ((U)(x) + (U)(y))
#define RDV_WRAP_PROD(U, x, y) ((U)(x) * (U)(y))
#define RDV_PLAIN_SUM(U, x, y) ((x) + (y))
#define RDV_PLAIN_PROD(U, x, y) ((x) * (y))
#define RDV_MIN(U, x, y) ((y) < (x) ? (y) : (x))
#define RDV_MAX(U, x, y) ((y) > (x) ? (y) : (x))

/* name, C type, unsigned twin, sum macro, prod macro */
#define RDV_DTYPE_MAP(X)                                                  \
    X(i32, int32_t, uint32_t, RDV_WRAP_SUM, RDV_WRAP_PROD)                \
    X(i64, int64_t, uint64_t, RDV_WRAP_SUM, RDV_WRAP_PROD)                \
    X(f32, float, float, RDV_PLAIN_SUM, RDV_PLAIN_PROD)                   \
    X(f64, double, double, RDV_PLAIN_SUM, RDV_PLAIN_PROD)

#define RDV_KERNEL(tn, T, U, opn, OPM)                                    \
    static void reduce_##tn##_##opn(void *out_, const void *a_,           \
                                    const void *b_, size_t n)             \
    {                                                                     \
        T *out = out_;                                                    \
        const T *a = a_, *b = b_;                                         \
        for (size_t i = 0; i < n; i++)                                    \
            out[i] = (T)OPM(U, a[i], b[i]);                               \
    }

#define RDV_KERNELS(tn, T, U, SUM, PROD)                                  \
    RDV_KERNEL(tn, T, U, sum, SUM)                                        \
    RDV_KERNEL(tn, T, U, prod, PROD)                                      \
    RDV_KERNEL(tn, T, U, min, RDV_MIN)                                    \
    RDV_KERNEL(tn, T, U, max, RDV_MAX)

RDV_DTYPE_MAP(RDV_KERNELS)

typedef void (*rdv_kernel)(void *, const void *, const void *, size_t);

#define RDV_KERNEL_ROW(tn, T, U, SUM, PROD)                               \
    {reduce_##tn##_sum, reduce_##tn##_prod, reduce_##tn##_min,            \
     reduce_##tn##_max},

/* Indexed [rdv_dtype][rdv_op]; the map's order is the enum's order. */
static const rdv_kernel kernels[4][4] = {RDV_DTYPE_MAP(RDV_KERNEL_ROW)};

int rdv_dtype_valid(rdv_dtype t)
{
    return (unsigned)t <= (unsigned)RDV_DOUBLE;
}

int rdv_op_valid(rdv_op op)
{
    return (unsigned)op <= (unsigned)RDV_MAX;
}

void rdv_reduce_apply(void *out, const void *a, const void *b, size_t n,
                      rdv_dtype t, rdv_op op)
{
    if (n && rdv_dtype_valid(t) && rdv_op_valid(op))
        kernels[t][op](out, a, b, n);
}

size_t rdv_dtype_size(rdv_dtype t)
{
    static const size_t sizes[] = {sizeof(int32_t), sizeof(int64_t),
                                   sizeof(float), sizeof(double)};

    return rdv_dtype_valid(t) ? sizes[t] : 0;
}

const char *rdv_dtype_name(rdv_dtype t)
{
    static const char *const names[] = {"int32", "int64", "float",
                                        "double"};

    return rdv_dtype_valid(t) ? names[t] : NULL;
}

const char *rdv_op_name(rdv_op op)
{
    static const char *const names[] = {"sum", "prod", "min", "max"};

    return rdv_op_valid(op) ? names[op] : NULL;
}
