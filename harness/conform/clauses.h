/*
 * conform/clauses.h - the clause bodies, grouped by file:
 * clauses_basic.c (values and keys), clauses_keys.c (distinct keys stay
 * distinct), clauses_blocking.c (waits,
 * timeouts, signals, close), clauses_atomic.c (add, compare_set, and the
 * multi-process races), clauses_processes.c (what other processes see:
 * overwrites at once, no keys left after close), clauses_scope.c
 * (delete, batches, list, cleanup).
 */
#ifndef RDV_CONFORM_CLAUSES_H
#define RDV_CONFORM_CLAUSES_H

#include "conform/contract.h"

#define RDV_CLAUSE(name) \
    void rdv_clause_##name(const rdv_clause_env *env, rdv_clause_result *r)

RDV_CLAUSE(set_get);
RDV_CLAUSE(empty_value);
RDV_CLAUSE(large_value);
RDV_CLAUSE(distinct_keys);
RDV_CLAUSE(odd_keys);
RDV_CLAUSE(bad_input);
RDV_CLAUSE(try_get_missing);
RDV_CLAUSE(wait_partial);
RDV_CLAUSE(timeout_accuracy);
RDV_CLAUSE(usable_after_timeout);
RDV_CLAUSE(add);
RDV_CLAUSE(compare_set);
RDV_CLAUSE(delete);
RDV_CLAUSE(multi);
RDV_CLAUSE(list_scope);
RDV_CLAUSE(eintr);
RDV_CLAUSE(cancel_on_close);
RDV_CLAUSE(mp_add);
RDV_CLAUSE(mp_compare_set);
RDV_CLAUSE(mp_create_only);
RDV_CLAUSE(mp_wake);
RDV_CLAUSE(mp_visibility);
RDV_CLAUSE(mp_close_leaks);
RDV_CLAUSE(cleanup);

#endif
