/*
 * stores/shm_heap.c - power-of-two size-class allocator over a region
 * (see shm_heap.h for the trade-offs). Each block starts with an 8-byte
 * header holding its class; a free block's next 8 bytes link the list.
 */
#include "shm_heap.h"

#define HDR 16u /* class + padding, keeps payloads 16-byte aligned */
#define MIN_CLASS 5u /* 32-byte blocks */

static unsigned size_class(size_t size)
{
    unsigned c = MIN_CLASS;

    while (((uint64_t)1 << c) < size + HDR && c < RDV_HEAP_CLASSES - 1)
        c++;
    return c;
}

void rdv_heap_init(rdv_heap *h, uint64_t base, uint64_t limit)
{
    h->base = (base + 15) & ~(uint64_t)15;
    h->limit = limit;
    h->bump = h->base;
    for (unsigned c = 0; c < RDV_HEAP_CLASSES; c++)
        h->free_list[c] = 0;
}

uint64_t rdv_heap_alloc(rdv_heap *h, void *region, size_t size)
{
    char *r = region;
    unsigned c = size_class(size);
    uint64_t block = h->free_list[c];

    if (((uint64_t)1 << c) < size + HDR)
        return 0;
    if (block) {
        h->free_list[c] = *(uint64_t *)(r + block + HDR);
    } else {
        if (h->limit - h->bump < ((uint64_t)1 << c))
            return 0;
        block = h->bump;
        h->bump += (uint64_t)1 << c;
    }
    *(uint64_t *)(r + block) = c;
    return block + HDR;
}

void rdv_heap_free(rdv_heap *h, void *region, uint64_t off)
{
    char *r = region;
    uint64_t block = off - HDR;
    unsigned c = (unsigned)*(uint64_t *)(r + block);

    *(uint64_t *)(r + off) = h->free_list[c];
    h->free_list[c] = block;
}
