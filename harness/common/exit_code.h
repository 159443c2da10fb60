/*
 * harness/common/exit_code.h - the exit status of every `rdv` command,
 * so a CI job can tell a broken store from a broken job:
 *
 *   0  no check failed: each passed, or was SKIPped with the reason it
 *      had nothing to judge (or the command did what was asked)
 *   1  a check failed: the system under test is wrong
 *   2  bad usage, found before any rank starts (an unknown option, a bad
 *      value, a spec that does not parse, a --junit path that cannot be
 *      written)
 *   3  could not run: the store did not open (unreachable, refused, a
 *      plugin that does not load), a server could not bind, resources ran
 *      out (fork, memory)
 *
 * When some checks failed and other parts could not run, 1 wins: a
 * failed check is a finding about the system under test.
 */
#ifndef RDV_HARNESS_EXIT_CODE_H
#define RDV_HARNESS_EXIT_CODE_H

#include "rdv/status.h"

enum {
    RDV_EXIT_OK = 0,
    RDV_EXIT_FAIL = 1,
    RDV_EXIT_USAGE = 2,
    RDV_EXIT_CANNOT_RUN = 3,
};

/* The exit for a store that did not open with status st: a URL that is
 * malformed or names what is not there to take is bad usage, anything
 * else (refused, unreachable, a plugin that fails) could not run. */
static inline int rdv_exit_store_open(int st)
{
    return st == RDV_EINVAL || st == RDV_ENOTSUP ? RDV_EXIT_USAGE
                                                 : RDV_EXIT_CANNOT_RUN;
}

/* The line every --help ends with. */
#define RDV_EXIT_HELP                                                       \
    "Exit status: 0 no check failed (a check with nothing to judge is a\n"  \
    "SKIP, with why), 1 a check failed, 2 bad usage (found before any\n"    \
    "rank starts), 3 could not run (store unreachable, resources).\n"

/* ... and the one every `rdv bench` help ends with: a benchmark has no
 * checks, only runs that complete or fail. */
#define RDV_EXIT_HELP_BENCH                                                 \
    "Benchmarks measure; they never judge. Exit status: 0 every run\n"     \
    "completed, 1 a run or store operation failed (its error is\n"         \
    "printed), 2 bad usage, 3 could not run (store unreachable,\n"         \
    "resources).\n"

#endif
