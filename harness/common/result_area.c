/*
 * harness/common/result_area.c - the MAP_SHARED result area ranks report into.
 *
 * One anonymous shared mapping holds every slot and, when a trace was
 * asked for, every rank's store-op events. It is made once per `rdv run`
 * (reused across --repeat) so a repeat costs a memset, not an mmap. The
 * mapping is MAP_NORESERVE: a large event array costs nothing until a
 * rank writes to it. The slots, the N x N tuple table and the events
 * each start on a page of their own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/result_area.h"

static size_t page_up(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    return (n + page - 1) / page * page;
}

int rdv_result_area_create(rdv_result_area *a, int nranks,
                           uint32_t events_cap)
{
    size_t slots, tuples, events;
    char *p;

    memset(a, 0, sizeof *a);
    if (nranks < 1 || nranks > RDV_RUN_MAX_RANKS)
        return -EINVAL;
    slots = page_up((size_t)nranks * sizeof(rdv_slot));
    tuples = page_up((size_t)nranks * (size_t)nranks * sizeof(rdv_tuple));
    events = (size_t)nranks * events_cap * sizeof(rdv_op_event);
    p = mmap(NULL, slots + tuples + events, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    a->nranks = nranks;
    a->events_cap = events_cap;
    a->map_size = slots + tuples + events;
    a->slots = (rdv_slot *)p;
    a->tuples = (rdv_tuple *)(p + slots);
    a->events = events_cap ? (rdv_op_event *)(p + slots + tuples) : NULL;
    return 0;
}

void rdv_result_area_reset(rdv_result_area *a)
{
    /* Events are bounded by each slot's nevents and a tuple row is read
     * only when its slot says connected (and then was written whole), so
     * only slots need clearing: a repeat stays cheap at any N. */
    memset(a->slots, 0, (size_t)a->nranks * sizeof(rdv_slot));
}

void rdv_result_area_destroy(rdv_result_area *a)
{
    if (a->slots)
        munmap(a->slots, a->map_size);
    memset(a, 0, sizeof *a);
}

rdv_slot *rdv_result_area_slot(const rdv_result_area *a, int rank)
{
    return &a->slots[rank];
}

rdv_tuple *rdv_result_area_tuples(const rdv_result_area *a, int rank)
{
    return a->tuples + (size_t)rank * (size_t)a->nranks;
}

rdv_op_event *rdv_result_area_events(const rdv_result_area *a, int rank)
{
    return a->events ? a->events + (size_t)rank * a->events_cap : NULL;
}

void rdv_slot_phase(rdv_slot *s, int phase, int step)
{
    int n = atomic_load_explicit(&s->nphases, memory_order_relaxed);
    struct timespec ts;

    if (n >= RDV_PHASE_LOG_MAX) {
        /* Keep the latest phase visible: overwrite the last mark. */
        n = RDV_PHASE_LOG_MAX - 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->phases[n].t_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    s->phases[n].phase = phase;
    s->phases[n].step = step;
    atomic_store_explicit(&s->nphases, n + 1, memory_order_release);
}

const rdv_phase_mark *rdv_slot_current_phase(const rdv_slot *s)
{
    int n = atomic_load_explicit(&s->nphases, memory_order_acquire);

    return n > 0 ? &s->phases[n - 1] : NULL;
}
