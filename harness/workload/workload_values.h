/*
 * harness/workload/workload_values.h - inputs derived from (seed, rank) and the
 * closed-form values every collective must produce from them.
 *
 * Every value is a small integer, exact in all four types, and chosen so
 * the reduction over N ranks has a formula: a rank checks its output in
 * O(count) without seeing any other rank's input.
 */
#ifndef RDV_HARNESS_WORKLOAD_VALUES_H
#define RDV_HARNESS_WORKLOAD_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "workload/workload.h"

/* What an output element should be. */
typedef enum rdv_expect_kind {
    RDV_EXPECT_INPUT,   /* rank `rank`'s input (broadcast, allgather) */
    RDV_EXPECT_REDUCED, /* the reduction over every rank (allreduce...) */
} rdv_expect_kind;

/* Fills buf[0..count) with rank's input to st. */
void rdv_values_fill(void *buf, const rdv_step *st, uint64_t seed, int rank,
                     int nranks, size_t count);

/* Compares buf[0..n) with the expected elements first..first+n-1.
 * Returns n when all match, else the index in buf of the first mismatch
 * and its expected value in *want. */
size_t rdv_values_check(const void *buf, const rdv_step *st, uint64_t seed,
                        int nranks, rdv_expect_kind kind, int rank,
                        size_t first, size_t n, int64_t *want);

/* Element i of a typed buffer, as a double (exact for our values). */
double rdv_value_load(const void *buf, rdv_dtype t, size_t i);
/* Sets element i of a typed buffer to v (converted to the type). */
void rdv_value_put(void *buf, rdv_dtype t, size_t i, double v);
/* Sets every element of buf[0..n) to v. */
void rdv_values_set_all(void *buf, rdv_dtype t, size_t n, int64_t v);

/* A 64-bit digest of len bytes; equal outputs give equal digests. */
uint64_t rdv_digest(const void *buf, size_t len);

#endif
