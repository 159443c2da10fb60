/*
 * harness/conform/conform_open.c - the "open" probe that `rdv conform`
 * runs first: the URL opens, the handle closes, and the store says how
 * processes may share it. When the store does not open there is nothing
 * else to certify; the flags it reports let conform skip its own clauses
 * that need a store shared across processes (the rendezvous and fault
 * runs) on a process-local store, saying why, and tell the level the
 * store claims (rdv_store_contract_level), which it is judged at unless
 * --contract-level says otherwise.
 */
#include <stdio.h>

#include "conform/conform_cmd.h"
#include "rdv/store.h"

void conform_clause_open(const conform_env *env, conform_out *out)
{
    char err[1024];
    rdv_store *s = NULL;
    int rc = rdv_store_open(env->base.url, &s, err, sizeof err);
    unsigned flags;

    if (rc) {
        conform_verdict(out, RDV_VERDICT_FAIL, "rdv_store_open: %s: %s",
                        rdv_status_name(rc), err);
        return;
    }
    flags = rdv_store_flags(s);
    out->store_flags = CONFORM_STORE_OPENED |
        (flags & RDV_STORE_PROCESS_LOCAL ? CONFORM_STORE_LOCAL : 0) |
        (rdv_store_contract_level(s) == RDV_STORE_LEVEL_GLOO
             ? CONFORM_STORE_GLOO : 0);
    conform_verdict(out, RDV_VERDICT_PASS, "opened as backend '%s'%s",
                    rdv_store_name(s),
                    flags & RDV_STORE_PROCESS_LOCAL
                        ? "; process-local: clauses that share the store "
                          "across processes are skipped"
                    : flags & RDV_STORE_INHERITED
                        ? "; inherited by forked processes"
                        : "; every process opens its own handle");
    rdv_store_close(s);
}
