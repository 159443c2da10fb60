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
#include <stdint.h>

#include "rdv/store.h"

typedef enum rdv_verdict {
    RDV_VERDICT_PASS = 0,
    RDV_VERDICT_FAIL = 1,
    RDV_VERDICT_SKIP = 77,
} rdv_verdict;

/* One store call in flight, for a watchdog outside the clause process
 * (conform_isolate.c) to name the call that hangs. A thread claims a
 * free slot (busy 0 -> 1), fills it, then publishes t0_ns; it clears
 * t0_ns before it frees the slot. */
typedef struct rdv_clause_call {
    int busy;
    int64_t t0_ns;     /* when the call began; 0 = no call */
    int64_t bound_ms;  /* past this it is a defect; 0 = no bound */
    char what[200];    /* "try_get 'missing' (timeout 0)" */
    char defect[200];  /* "timeout 0 must try once" */
    int plain;         /* a call without a timeout of its own (set,
                          add, close...), which must not block */
} rdv_clause_call;

#define RDV_CLAUSE_CALLS 48 /* the clause's threads and processes */

typedef struct rdv_clause_result {
    rdv_verdict verdict;
    char evidence[1024]; /* what was seen: why it passed or failed */
    /* Calls in flight. In shared memory under `rdv conform`, so the
     * clause's forked children write here too. */
    rdv_clause_call calls[RDV_CLAUSE_CALLS];
} rdv_clause_result;

/* The oldest call in r that has run past its bound at now_ns, as "what
 * blocked for N ms: defect" in buf; 0 when none has, 2 when it is a
 * call without a timeout of its own (rdv_clause_call.plain), else 1. */
int rdv_clause_overrun(const rdv_clause_result *r, int64_t now_ns, char *buf,
                       size_t cap);

typedef struct rdv_clause_env {
    const char *url;
    int quick; /* smaller op counts and values, for fast smoke runs */
    /* The level the store is judged at (RDV_STORE_LEVEL_*); 0 = the one
     * it claims (rdv_store_contract_level). A clause checks the parts
     * above it only when the store is judged at their level. */
    int level;
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
    /* It moves so many bytes that a single-threaded server (redis) stops
     * answering everyone else meanwhile: run it where no other client
     * waits on that server with a deadline of its own. */
    int heavy;
    /* The contract level it belongs to (RDV_STORE_LEVEL_GLOO: set, get,
     * wait and check, what Gloo's store offers; RDV_STORE_LEVEL_FULL:
     * the rest). A store judged at a lower level is not asked for it:
     * the clause is n/a. */
    int level;
    /* The longest it may take on a correct store on a loaded machine,
     * in ms, from what it waits for; 0 = RDV_CLAUSE_BUDGET_MS. A store
     * call that overruns its own timeout is caught sooner, by the call
     * watch (rdv_clause_call); this bounds everything else. */
    int budget_ms;
} rdv_clause;

#define RDV_CLAUSE_BUDGET_MS 60000

/* "gloo" or "full" for a level, "none" for 0. */
const char *rdv_contract_level_name(int level);
/* RDV_STORE_LEVEL_* for "gloo" or "full"; 0 for anything else. */
int rdv_contract_level_parse(const char *name);

/* Every clause, in report order. */
const rdv_clause *rdv_contract_clauses(size_t *n);
/* The clause called name, or NULL. */
const rdv_clause *rdv_contract_find(const char *name);

/* Runs one clause in this process (the caller isolates it). */
void rdv_contract_run(const rdv_clause *c, const rdv_clause_env *env,
                      rdv_clause_result *r);

#endif
