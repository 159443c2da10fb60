/*
 * transport/evq.c - a growable ring of finished events, shared by the
 * io_uring and epoll backends so neither repeats it.
 */
#include <stdlib.h>
#include <unistd.h>

#include "evq.h"

int rdv_evq_push(rdv_evq *q, int fd, uint64_t tag, int res, int more,
                 int is_fd)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        rdv_evq_item *v = malloc(cap * sizeof *v);

        if (!v)
            return RDV_ENOMEM;
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    rdv_evq_item *it = &q->v[(q->head + q->len) % q->cap];
    it->ev.tag = tag;
    it->ev.res = res;
    it->ev.more = more;
    it->fd = fd;
    it->is_fd = is_fd;
    q->len++;
    return RDV_OK;
}

int rdv_evq_pop(rdv_evq *q, rdv_event *evs, int max)
{
    int n = 0;

    while (q->len > 0 && n < max) {
        evs[n++] = q->v[q->head].ev;
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    return n;
}

void rdv_evq_drop_fd(rdv_evq *q, int fd)
{
    size_t kept = 0;

    for (size_t i = 0; i < q->len; i++) {
        rdv_evq_item it = q->v[(q->head + i) % q->cap];

        if (it.fd == fd) {
            if (it.is_fd && it.ev.res >= 0)
                close(it.ev.res);
            continue;
        }
        q->v[(q->head + kept) % q->cap] = it;
        kept++;
    }
    q->len = kept;
}

void rdv_evq_free(rdv_evq *q)
{
    for (size_t i = 0; i < q->len; i++) {
        rdv_evq_item *it = &q->v[(q->head + i) % q->cap];

        if (it->is_fd && it->ev.res >= 0)
            close(it->ev.res);
    }
    free(q->v);
    q->v = NULL;
    q->head = q->len = q->cap = 0;
}
