/*
 * harness/bench/samples.c - sorting the benches' timing samples (see
 * samples.h). qsort with a comparator that never overflows: (x > y) -
 * (x < y), not x - y, which wraps for int64 ns far apart.
 */
#include <stdlib.h>

#include "bench/samples.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

void rdv_samples_sort_i64(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
}

void rdv_samples_sort_double(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}
