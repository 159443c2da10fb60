/*
 * conform/contract.h - the store contract as runnable clauses.
 *
 * One library serves both places that check stores: the Criterion suite
 * (tests/ref/stores) runs every clause against every built-in store, and
 * `rdv conform` runs them against any URL. A clause opens the URL
 * itself, scopes its keys under a prefix unique to the call (so clauses
 * can share one redis or one directory), checks one part of the
 * contract, removes its keys, and says what it saw.
 *
 * A clause may fork (multi-process clauses) or start a thread (cancel on
 * close); run each clause in a process of its own, as Criterion and
 * `rdv conform` both do, so one clause's signals and threads never leak
 * into the next. Stores made to be inherited (hash:?shared=1) are opened
 * once per clause and inherited by its children; on a store that one
 * process cannot share (hash:), a multi-process clause says SKIP, with
 * the reason, rather than fail.
 */
#ifndef RDV_CONFORM_CONTRACT_H
#define RDV_CONFORM_CONTRACT_H

#include <stddef.h>

#include "rdv/store.h"

typedef enum rdv_verdict {
    RDV_VERDICT_PASS = 0,
    RDV_VERDICT_FAIL = 1,
    RDV_VERDICT_SKIP = 77,
} rdv_verdict;

typedef struct rdv_clause_result {
    rdv_verdict verdict;
    char evidence[1024]; /* what was seen: why it passed or failed */
} rdv_clause_result;

typedef struct rdv_clause_env {
    const char *url;
    int quick; /* smaller op counts and values, for fast smoke runs */
} rdv_clause_env;

/* Clause groups, the GROUP column of `rdv conform`. */
#define RDV_CLAUSE_SINGLE "single-process" /* one process, one handle */
#define RDV_CLAUSE_MULTI "multi-process"   /* processes share the store;
                                              SKIP on a process-local one */

typedef struct rdv_clause {
    const char *name;    /* "timeout-accuracy" */
    const char *group;   /* RDV_CLAUSE_SINGLE or RDV_CLAUSE_MULTI */
    const char *summary; /* one line: what the contract requires */
    void (*run)(const rdv_clause_env *env, rdv_clause_result *r);
    /* Its verdict bounds how long store calls take. Run it where nothing
     * else loads the store or the CPU it measures: a clause moving
     * 64 MiB through the same redis-server stalls every other client,
     * and a round trip stretched that way is not the store's fault. */
    int timed;
    /* Its verdict judges every key in the store, not only its own
     * prefix's. Run it where nothing else writes to the store: another
     * client's key would count against the store. */
    int whole_store;
} rdv_clause;

/* Every clause, in report order. */
const rdv_clause *rdv_contract_clauses(size_t *n);
/* The clause called name, or NULL. */
const rdv_clause *rdv_contract_find(const char *name);

/* Runs one clause in this process (the caller isolates it). */
void rdv_contract_run(const rdv_clause *c, const rdv_clause_env *env,
                      rdv_clause_result *r);

#endif
