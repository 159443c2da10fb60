/*
 * harness/bench/samples.h - the timing samples the benches take, sorted
 * ascending so that a median or a percentile is an index into them. One
 * copy for rdv bench and rdv-bench-mpi; what each reads from the sorted
 * array (p50, p99, min, max) stays with the bench that prints it.
 */
#ifndef RDV_HARNESS_BENCH_SAMPLES_H
#define RDV_HARNESS_BENCH_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

/* Sorts v[0..n) ascending, in place (durations in ns). */
void rdv_samples_sort_i64(int64_t *v, size_t n);
/* Sorts v[0..n) ascending, in place (durations in ms; no NaN). */
void rdv_samples_sort_double(double *v, size_t n);

#endif
