/*
 * runtime/mix.c - the decision mix. Every fault decision is a pure function of
 * (seed, rank, op index, fault id, salt): the inputs are folded in one at
 * a time through splitmix64's finaliser, which is a bijection with good
 * avalanche, so neighbouring seeds, ranks or calls give unrelated draws.
 * There is no generator state at all: nothing to share across fork, and
 * nothing that depends on how many other decisions were made first.
 */
#include "fault_internal.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t rdv_fault_mix(uint64_t seed, int rank, uint64_t op_index,
                       int fault_id, unsigned salt)
{
    uint64_t h = splitmix64(seed);

    h = splitmix64(h ^ (uint64_t)(uint32_t)rank);
    h = splitmix64(h ^ op_index);
    h = splitmix64(h ^ ((uint64_t)(uint32_t)fault_id << 32 | salt));
    return h;
}

double rdv_fault_unit(uint64_t seed, int rank, uint64_t op_index,
                      int fault_id, unsigned salt)
{
    /* 53 high bits: every double in [0, 1) this can give is exact. */
    return (double)(rdv_fault_mix(seed, rank, op_index, fault_id, salt) >>
                    11) * 0x1.0p-53;
}

int64_t rdv_fault_pick(const rdv_fault_span *s, uint64_t seed, int rank,
                       uint64_t op_index, int fault_id, unsigned salt)
{
    uint64_t width = (uint64_t)(s->hi - s->lo) + 1;

    if (s->hi <= s->lo)
        return s->lo;
    return s->lo + (int64_t)(rdv_fault_mix(seed, rank, op_index, fault_id,
                                           salt) % width);
}

int rdv_fault_span_has(const rdv_fault_span *s, size_t n, int64_t v)
{
    for (size_t k = 0; k < n; k++)
        if (v >= s[k].lo && v <= s[k].hi)
            return 1;
    return 0;
}

int rdv_fault_has_rank(const rdv_fault *f, int rank)
{
    return !f->nranks || rdv_fault_span_has(f->ranks, f->nranks, rank);
}

int rdv_fault_has_peer(const rdv_fault *f, int peer)
{
    return !f->npeers || rdv_fault_span_has(f->peers, f->npeers, peer);
}
