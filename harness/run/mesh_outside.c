/*
 * harness/run/mesh_outside.c - ranks linked by mirrored socket ends
 * (run/mesh_outside.h).
 *
 * Every listed socket is sorted by its two ends; each one then looks up
 * its mirror (the same two ends swapped) by binary search: N^2 log N at
 * worst, where comparing every rank's list with every other's would be
 * N^4.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/status.h"
#include "run/mesh_outside.h"

typedef struct end_of {
    rdv_tuple t;
    int rank;
} end_of;

static int by_ends(const void *a, const void *b)
{
    return memcmp(&((const end_of *)a)->t, &((const end_of *)b)->t,
                  sizeof(rdv_tuple));
}

int rdv_mesh_outside(const rdv_result_area *a, int nranks, rdv_mesh_view *v)
{
    size_t n = 0, words = ((size_t)nranks * nranks + 63) / 64;
    end_of *all = NULL;
    uint64_t *linked = calloc(words ? words : 1, sizeof *linked);
    int ret = RDV_ENOMEM;

    memset(v, 0, sizeof *v);
    v->truncated = -1;
    for (int r = 0; r < nranks; r++) {
        const rdv_slot *s = rdv_result_area_slot(a, r);

        if (s->connected)
            n += (size_t)(s->nsockets < nranks ? s->nsockets : nranks);
    }
    if (!linked || !(all = malloc((n ? n : 1) * sizeof *all)))
        goto out;
    n = 0;
    for (int r = 0; r < nranks; r++) {
        const rdv_slot *s = rdv_result_area_slot(a, r);
        const rdv_tuple *row = rdv_result_area_tuples(a, r);

        if (!s->connected)
            continue;
        if (s->nsockets > nranks && v->truncated < 0)
            v->truncated = r;
        for (int k = 0; k < s->nsockets && k < nranks; k++)
            all[n++] = (end_of){row[k], r};
    }
    qsort(all, n, sizeof *all, by_ends);
    for (size_t k = 0; k < n; k++) {
        end_of key = {{all[k].t.remote, all[k].t.local}, 0};
        const end_of *m = bsearch(&key, all, n, sizeof *all, by_ends);
        size_t i = (size_t)all[k].rank, j;

        if (!m || m->rank == all[k].rank)
            continue;
        j = (size_t)m->rank;
        linked[(i * nranks + j) / 64] |= 1ull << ((i * nranks + j) % 64);
        linked[(j * nranks + i) / 64] |= 1ull << ((j * nranks + i) % 64);
    }
    for (int i = 0; i < nranks; i++) {
        if (!rdv_result_area_slot(a, i)->connected)
            continue;
        for (int j = i + 1; j < nranks; j++) {
            size_t bit = (size_t)i * nranks + j;

            if (!rdv_result_area_slot(a, j)->connected)
                continue;
            v->pairs++;
            if (linked[bit / 64] & 1ull << (bit % 64))
                v->linked++;
            else if (v->nunlinked < RDV_MESH_UNLINKED_SHOWN) {
                v->unlinked[v->nunlinked][0] = i;
                v->unlinked[v->nunlinked++][1] = j;
            }
        }
    }
    ret = RDV_OK;
out:
    free(all);
    free(linked);
    return ret;
}
