/*
 * server/waiters.c - get, wait and multi_get requests parked on the
 * server until their keys exist or their deadline passes.
 *
 * Choices:
 *  - A waiter links into the entry of every key it names (table.c) and
 *    counts the ones absent. A set that makes a key present walks only
 *    that key's links, and a waiter whose count reaches zero is
 *    answered then and there; a delete makes its waiters count the key
 *    again. Nothing ever rescans or polls.
 *  - Waiters completed by one set are collected first and answered
 *    after the walk, because answering frees a waiter's links, which
 *    may include the next link of the walk (a wait naming one key
 *    twice).
 *  - Deadlines sit in a binary min-heap (the waiter keeps its index),
 *    so the loop sleeps exactly until the earliest one, expiring costs
 *    O(log n) and removing a waiter that was answered or whose client
 *    left is O(log n) too.
 *  - A waiter belongs to its client's list as well, so a client that
 *    goes away takes its parked requests with it.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static int64_t deadline_of(const srv_heap *h, size_t i)
{
    return h->v[i]->deadline;
}

static void heap_swap(srv_heap *h, size_t a, size_t b)
{
    srv_waiter *t = h->v[a];

    h->v[a] = h->v[b];
    h->v[b] = t;
    h->v[a]->heap_i = a;
    h->v[b]->heap_i = b;
}

static void heap_up(srv_heap *h, size_t i)
{
    while (i > 0 && deadline_of(h, (i - 1) / 2) > deadline_of(h, i)) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(srv_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < h->n && deadline_of(h, l) < deadline_of(h, m))
            m = l;
        if (r < h->n && deadline_of(h, r) < deadline_of(h, m))
            m = r;
        if (m == i)
            return;
        heap_swap(h, i, m);
        i = m;
    }
}

static int heap_push(srv_heap *h, srv_waiter *w)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        srv_waiter **v = realloc(h->v, cap * sizeof *v);

        if (!v)
            return RDV_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    w->heap_i = h->n;
    h->v[h->n++] = w;
    heap_up(h, w->heap_i);
    return RDV_OK;
}

static void heap_remove(srv_heap *h, srv_waiter *w)
{
    size_t i = w->heap_i;

    if (i == SIZE_MAX)
        return;
    w->heap_i = SIZE_MAX;
    if (i != --h->n) {
        h->v[i] = h->v[h->n];
        h->v[i]->heap_i = i;
        heap_down(h, i);
        heap_up(h, i);
    }
}

void srv_heap_free(srv_heap *h)
{
    free(h->v);
    memset(h, 0, sizeof *h);
}

static void link_into(srv_link *l, srv_entry *e)
{
    l->e = e;
    l->prev = NULL;
    l->next = e->links;
    if (e->links)
        e->links->prev = l;
    e->links = l;
    l->missing = !e->present;
}

static void link_out(srv_link *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        l->e->links = l->next;
    if (l->next)
        l->next->prev = l->prev;
}

/* Unlinks the first n links of w and releases their entries. */
static void unlink_keys(srv *s, srv_waiter *w, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        link_out(&w->links[i]);
        srv_table_release(&s->table, w->links[i].e);
    }
}

srv_waiter *srv_waiter_park(srv *s, srv_client *c, const rdv_tcp_msg *m,
                            int64_t deadline)
{
    uint32_t n = m->op == RDV_TCP_GET ? 1 : m->count;
    rdv_tcp_span items = m->items, k = m->key;
    srv_waiter *w = calloc(1, sizeof *w + n * sizeof(srv_link));

    if (!w)
        return NULL;
    w->c = c;
    w->id = m->id;
    w->op = m->op;
    w->deadline = deadline;
    w->heap_i = SIZE_MAX;
    w->n = n;
    for (uint32_t i = 0; i < n; i++) {
        srv_entry *e;

        if (m->op != RDV_TCP_GET)
            rdv_tcp_next(&items, &k);
        e = srv_table_intern(&s->table, k.p, k.len);
        if (!e) {
            unlink_keys(s, w, i);
            free(w);
            return NULL;
        }
        w->links[i].w = w;
        link_into(&w->links[i], e);
        w->missing += w->links[i].missing;
    }
    if (deadline != RDV_DEADLINE_NONE &&
        heap_push(&s->heap, w) != RDV_OK) {
        unlink_keys(s, w, n);
        free(w);
        return NULL;
    }
    w->cnext = c->waiters;
    if (c->waiters)
        c->waiters->cprev = w;
    c->waiters = w;
    c->nwaiting++;
    atomic_fetch_add(&s->st_waiting, 1);
    return w;
}

void srv_waiter_free(srv *s, srv_waiter *w)
{
    srv_client *c = w->c;

    unlink_keys(s, w, w->n);
    heap_remove(&s->heap, w);
    if (w->cprev)
        w->cprev->cnext = w->cnext;
    else
        c->waiters = w->cnext;
    if (w->cnext)
        w->cnext->cprev = w->cprev;
    c->nwaiting--;
    atomic_fetch_sub(&s->st_waiting, 1);
    free(w);
}

void srv_waiters_present(srv *s, srv_entry *e)
{
    srv_waiter *ready = NULL;

    for (srv_link *l = e->links; l; l = l->next) {
        if (!l->missing)
            continue;
        l->missing = 0;
        if (--l->w->missing == 0 && !l->w->ready) {
            l->w->ready = 1;
            l->w->ready_next = ready;
            ready = l->w;
        }
    }
    while (ready) {
        srv_waiter *w = ready;

        ready = w->ready_next;
        srv_serve_waiter(s, w, 0);
        srv_waiter_free(s, w);
    }
}

void srv_waiters_absent(srv_entry *e)
{
    for (srv_link *l = e->links; l; l = l->next) {
        if (!l->missing) {
            l->missing = 1;
            l->w->missing++;
        }
    }
}

int64_t srv_waiters_expire(srv *s, int64_t now)
{
    while (s->heap.n > 0 && s->heap.v[0]->deadline <= now) {
        srv_waiter *w = s->heap.v[0];

        srv_serve_waiter(s, w, 1);
        srv_waiter_free(s, w);
    }
    return s->heap.n > 0 ? s->heap.v[0]->deadline : RDV_DEADLINE_NONE;
}

void srv_waiters_drop_client(srv *s, srv_client *c)
{
    while (c->waiters)
        srv_waiter_free(s, c->waiters);
}
