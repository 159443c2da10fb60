/*
 * values.h - inputs derived from (seed, rank, index) and the closed-form
 * checks of collective outputs.
 *
 * Integers are full-range random, so sum and prod wrap and min/max see
 * both signs; the expected value is folded in unsigned 64-bit arithmetic
 * and truncated, exactly. Floats are chosen per op so the check means
 * something: sum uses k/1000 in [-1, 1] (rounding happens; the result
 * must lie within n * eps * sum|x| of a long double reference), prod
 * uses +-{0.5, 1, 2} (exact), min/max use k/7 (exact).
 */
#ifndef RDV_TEST_VALUES_H
#define RDV_TEST_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/collectives.h"

/* buf[k] = rank's input element (off + k). */
void values_fill(void *buf, rdv_dtype t, rdv_op op, uint64_t seed, int rank,
                 size_t off, size_t n);

/* Checks buf[k] against element (off + k) reduced over ranks 0..nranks-1.
 * Returns 0, or 1 with a message in why. */
int values_check_reduced(const void *buf, rdv_dtype t, rdv_op op,
                         uint64_t seed, int nranks, size_t off, size_t n,
                         char *why, size_t len);

/* Checks buf[k] == rank's input element (off + k), bit for bit. */
int values_check_input(const void *buf, rdv_dtype t, rdv_op op,
                       uint64_t seed, int rank, size_t off, size_t n,
                       char *why, size_t len);

uint64_t values_digest(const void *buf, size_t bytes);

#endif
