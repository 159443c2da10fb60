/*
 * stores/shm_heap.h - an allocator inside one mapping, addressed by
 * offsets so that it works at any address in every forked process.
 *
 * Blocks come in power-of-two size classes with one free list each and
 * a bump pointer for fresh space. No coalescing: rendezvous values are
 * small and uniform, and a freed block is reused by the next value of
 * its class. The cost is up to 2x space for odd sizes, which for the
 * 64 MiB contract value means one 128 MiB class block. The caller holds
 * the region's lock around every call.
 */
#ifndef RDV_SHM_HEAP_H
#define RDV_SHM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define RDV_HEAP_CLASSES 40

typedef struct rdv_heap {
    uint64_t base;  /* offset of the first byte the heap may hand out */
    uint64_t limit; /* offset one past the last */
    uint64_t bump;  /* offset of the untouched remainder */
    uint64_t free_list[RDV_HEAP_CLASSES];
} rdv_heap;

void rdv_heap_init(rdv_heap *h, uint64_t base, uint64_t limit);
/* Offset of a block of at least size bytes, or 0 when full. */
uint64_t rdv_heap_alloc(rdv_heap *h, void *region, size_t size);
void rdv_heap_free(rdv_heap *h, void *region, uint64_t off);

#endif
