/*
 * rdv/fault.h - librdv-fault: seeded, deterministic fault injection.
 *
 * A fault spec (documented in fault-injection/README.md) parses into a
 * plan. The harness parent validates the plan against the run, then each
 * forked rank builds its own per-rank instance, which
 *   - wraps the rank's store in a fault store (store.* faults),
 *   - gives the context hooks (rdv/hooks.h) for net.* faults and for
 *     proc.* faults that fire at a named phase,
 * while the parent applies server.* faults and the parts of proc.* that
 * only a parent can do (start late, SIGCONT after a stop).
 *
 * Determinism: every decision is a pure function of (seed, rank, op
 * index, fault id) through a counter-based mix; never of wall-clock time
 * or of a PRNG shared across fork. Decisions are written, one line each,
 * to the per-rank decision log when one is given, so two runs with the
 * same seed produce byte-identical logs.
 */
#ifndef RDV_FAULT_H
#define RDV_FAULT_H

#include <stdint.h>
#include <stdio.h>

#include "rdv/hooks.h"
#include "rdv/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rdv_fault_plan rdv_fault_plan;
typedef struct rdv_fault_rank rdv_fault_rank;

/* Parses spec ("store.delay(op=get, ms=5..50, p=0.3); proc.kill(rank=3,
 * at=after-publish)"). An empty spec is a valid empty plan. On error
 * returns RDV_EINVAL and writes "line L, column C: expected ..., got
 * ..." into errbuf. */
int rdv_fault_plan_parse(const char *spec, rdv_fault_plan **out,
                         char *errbuf, size_t errlen);
void rdv_fault_plan_free(rdv_fault_plan *p);

/* Checks the plan against a run of nranks ranks (rank=7 in a 4-rank run
 * is RDV_EINVAL, naming the fault and its column). */
int rdv_fault_plan_validate(const rdv_fault_plan *p, int nranks,
                            char *errbuf, size_t errlen);

/* The plan in canonical form, for replay lines; a static-per-plan
 * string owned by p. */
const char *rdv_fault_plan_text(const rdv_fault_plan *p);

/* What the harness must expect from a run under this plan. */
typedef struct rdv_fault_expect {
    int fatal;       /* survivors must fail, naming the culprit */
    int culprit;     /* the culprit rank, or -1 when a key is the culprit */
    char key[256];   /* a key the culprit message must name, or "" */
} rdv_fault_expect;

void rdv_fault_plan_expect(const rdv_fault_plan *p, uint64_t seed,
                           int nranks, rdv_fault_expect *out);

/* Parent side, before forking rank: ms to wait before forking it
 * (proc.start-late), 0 for none. */
int rdv_fault_plan_start_delay_ms(const rdv_fault_plan *p, uint64_t seed,
                                  int rank);

/* Parent side, when a rank stopped itself (proc.stop): ms until the
 * parent must send SIGCONT. */
int rdv_fault_plan_stop_ms(const rdv_fault_plan *p, uint64_t seed,
                           int rank);

/* Rank side, after fork. log may be NULL. */
int rdv_fault_rank_create(const rdv_fault_plan *p, uint64_t seed, int rank,
                          int nranks, FILE *log, rdv_fault_rank **out);
void rdv_fault_rank_destroy(rdv_fault_rank *fr);

/* Wraps inner in the fault store; the result owns inner. With no store
 * faults in the plan, *out = inner. */
int rdv_fault_rank_wrap_store(rdv_fault_rank *fr, rdv_store *inner,
                              rdv_store **out);

/* Hooks for rdv_context_options.hooks. `chain` (may be NULL) is called
 * first, so the harness can still observe phases. Valid until the rank
 * instance is destroyed. */
const rdv_hooks *rdv_fault_rank_hooks(rdv_fault_rank *fr,
                                      const rdv_hooks *chain);

#ifdef __cplusplus
}
#endif
#endif
