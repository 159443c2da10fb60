/*
 * tests/mpi/mpi_check.h - the little the MPI tests share: checks that
 * say what failed, where and on which rank, a context made the way
 * every test makes it, and the verdict every rank agrees on.
 *
 * These tests are plain programs run under mpirun (Criterion forks each
 * test, which MPI does not survive). Exit 0 = pass, 1 = fail.
 */
#ifndef RDV_TESTS_MPI_CHECK_H
#define RDV_TESTS_MPI_CHECK_H

#include <mpi.h>

#include "rdv/context.h"
#include "rdv/mpi.h"

/* Records a failure unless cond holds; never stops the test, so every
 * rank still reaches the collective calls the others wait in. */
#define MPI_CHECK(cond, ...)                                                  \
    mpi_check_that((cond) != 0, __FILE__, __LINE__, #cond, __VA_ARGS__)

void mpi_check_that(int ok, const char *file, int line, const char *expr,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* MPI_Init, then this rank and the size of MPI_COMM_WORLD. */
void mpi_check_init(int *argc, char ***argv, const char *test);

/* A context bound to 127.0.0.1 with a 20 s timeout, or NULL after a
 * recorded failure. */
rdv_context *mpi_check_context(int rank, int size, const char *job);
/* The same, bound to bind (given as is: it may be one rdv refuses). */
rdv_context *mpi_check_context_bound(int rank, int size, const char *job,
                                     const char *bind);

/* Every rank's failures summed; MPI_Finalize; the exit code (0 or 1). */
int mpi_check_finish(void);

/* This rank's failed checks so far (for tests that finalize MPI early). */
int mpi_check_failures(void);
int mpi_check_rank(void);
int mpi_check_size(void);

#endif
