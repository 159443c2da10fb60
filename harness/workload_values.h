/*
 * harness/workload_values.h - inputs derived from (seed, rank) and the
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

#include "workload.h"

/* Element i of rank's input to st. */
int64_t rdv_value_input(const rdv_step *st, uint64_t seed, int rank,
                        int nranks, size_t i);
/* Element i of the reduction of every rank's input (allreduce and
 * reduce_scatter, i indexing the whole vector). */
int64_t rdv_value_reduced(const rdv_step *st, uint64_t seed, int nranks,
                          size_t i);

/* Fills buf[0..count) with rank's input to st. */
void rdv_values_fill(void *buf, const rdv_step *st, uint64_t seed, int rank,
                     int nranks, size_t count);
/* Element i of a typed buffer, as a double (exact for our values). */
double rdv_value_load(const void *buf, rdv_dtype t, size_t i);
void rdv_value_store(void *buf, rdv_dtype t, size_t i, int64_t v);

/* A 64-bit digest of len bytes; equal outputs give equal digests. */
uint64_t rdv_digest(const void *buf, size_t len);

#endif
