/*
 * runtime/history.c - what a fault store remembers for store.stale: per key, the
 * value it last saw through this handle and the one before it. A stale
 * read serves the one before. Bounded, so a long run cannot grow it
 * without limit: keys past the bound are simply not remembered (their
 * stale reads see the key as absent, the other documented behaviour).
 * It also keeps when a stale key was first read, so a lagging replica's
 * lag runs from that read, not from every read anew.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/fault_history.h"

#define HISTORY_MAX 1024

typedef struct entry {
    char *key;
    void *cur, *prev;
    size_t cur_len, prev_len;
    int has_prev;
    int64_t first_read; /* 0: not read under a stale fault yet */
} entry;

struct rdv_fault_history {
    entry *e;
    size_t n;
};

rdv_fault_history *rdv_fault_history_create(void)
{
    return calloc(1, sizeof(rdv_fault_history));
}

void rdv_fault_history_destroy(rdv_fault_history *h)
{
    if (!h)
        return;
    for (size_t k = 0; k < h->n; k++) {
        free(h->e[k].key);
        free(h->e[k].cur);
        free(h->e[k].prev);
    }
    free(h->e);
    free(h);
}

static entry *find(rdv_fault_history *h, const char *key)
{
    for (size_t k = 0; k < h->n; k++)
        if (!strcmp(h->e[k].key, key))
            return &h->e[k];
    return NULL;
}

static void *dup_bytes(const void *v, size_t len)
{
    void *d = malloc(len + 1);

    if (d) {
        memcpy(d, v, len);
        ((char *)d)[len] = '\0';
    }
    return d;
}

static int grow(rdv_fault_history *h)
{
    entry *ne;

    if (h->n % 16)
        return 0;
    if (!(ne = realloc(h->e, (h->n + 16) * sizeof *ne)))
        return -1;
    h->e = ne;
    return 0;
}

/* The entry for key, made when missing; NULL when full or out of memory. */
static entry *find_or_add(rdv_fault_history *h, const char *key)
{
    entry *e = find(h, key);

    if (e)
        return e;
    if (h->n == HISTORY_MAX || grow(h))
        return NULL;
    e = &h->e[h->n];
    memset(e, 0, sizeof *e);
    if (!(e->key = strdup(key)))
        return NULL;
    h->n++;
    return e;
}

int64_t rdv_fault_history_first_read(rdv_fault_history *h, const char *key,
                                     int64_t now)
{
    entry *e = find_or_add(h, key);

    if (!e)
        return now;
    if (!e->first_read)
        e->first_read = now;
    return e->first_read;
}

void rdv_fault_history_note(rdv_fault_history *h, const char *key,
                            const void *val, size_t len)
{
    entry *e = find_or_add(h, key);
    void *copy;

    if (!e || (e->cur && e->cur_len == len && !memcmp(e->cur, val, len)))
        return; /* full, or the same value again: no change */
    if (!(copy = dup_bytes(val, len)))
        return;
    free(e->prev);
    e->prev = e->cur;
    e->prev_len = e->cur_len;
    e->has_prev = e->cur != NULL;
    e->cur = copy;
    e->cur_len = len;
}

int rdv_fault_history_previous(rdv_fault_history *h, const char *key,
                               void **val, size_t *len)
{
    entry *e = find(h, key);

    if (!e || !e->has_prev || !(*val = dup_bytes(e->prev, e->prev_len)))
        return 0;
    *len = e->prev_len;
    return 1;
}
