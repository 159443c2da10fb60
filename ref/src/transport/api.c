/*
 * transport/api.c - the public data-plane calls (rdv/transport.h) on top
 * of the context's transport. They add the context rules: a context
 * that is not connected or has failed refuses with RDV_ESTATE, a
 * timeout of RDV_TIMEOUT_DEFAULT is the context's, and any transport
 * error is copied into the context's detail and makes the context
 * unusable.
 */
#include "context_internal.h"
#include "rdv/clock.h"

static int fail_from(rdv_context *ctx, rdv_transport *t, int status)
{
    return rdv_context_fail(ctx, status, "%s", rdv_transport_errmsg(t));
}

static int post(rdv_context *ctx, rdv_request *req, int peer, int is_send,
                void *buf, size_t len)
{
    rdv_transport *t;
    int ret;

    if (!ctx || !req || (!buf && len > 0))
        return RDV_EINVAL;
    if ((ret = rdv_context_check_usable(ctx)) != RDV_OK)
        return ret;
    t = rdv_context_transport(ctx);
    req->peer = peer;
    req->is_send = is_send;
    req->buf = buf;
    req->len = len;
    req->done = 0;
    req->active = 0;
    req->status = RDV_OK;
    ret = rdv_transport_post(t, req);
    if (ret == RDV_EINVAL)
        return ret; /* a caller mistake: the context stays usable */
    return ret == RDV_OK ? RDV_OK : fail_from(ctx, t, ret);
}

int rdv_post_send(rdv_context *ctx, rdv_request *req, int peer,
                  const void *buf, size_t len)
{
    return post(ctx, req, peer, 1, (void *)buf, len);
}

int rdv_post_recv(rdv_context *ctx, rdv_request *req, int peer, void *buf,
                  size_t len)
{
    return post(ctx, req, peer, 0, buf, len);
}

static int wait_until(rdv_context *ctx, rdv_request *const *reqs, size_t n,
                      int64_t deadline)
{
    rdv_transport *t;
    int ret;

    if (!ctx || (!reqs && n > 0))
        return RDV_EINVAL;
    if ((ret = rdv_context_check_usable(ctx)) != RDV_OK)
        return ret;
    t = rdv_context_transport(ctx);
    ret = rdv_transport_wait(t, reqs, n, deadline);
    return ret == RDV_OK ? RDV_OK : fail_from(ctx, t, ret);
}

int rdv_wait(rdv_context *ctx, rdv_request *const *reqs, size_t n,
             int timeout_ms)
{
    if (!ctx)
        return RDV_EINVAL;
    return wait_until(ctx, reqs, n, rdv_context_deadline(ctx, timeout_ms));
}

static int blocking(rdv_context *ctx, int peer, int is_send, void *buf,
                    size_t len, int timeout_ms)
{
    rdv_request req;
    rdv_request *one = &req;
    int64_t deadline;
    int ret;

    if (!ctx)
        return RDV_EINVAL;
    deadline = rdv_context_deadline(ctx, timeout_ms);
    ret = post(ctx, &req, peer, is_send, buf, len);
    if (ret != RDV_OK)
        return ret;
    return wait_until(ctx, &one, 1, deadline);
}

int rdv_send(rdv_context *ctx, int peer, const void *buf, size_t len,
             int timeout_ms)
{
    return blocking(ctx, peer, 1, (void *)buf, len, timeout_ms);
}

int rdv_recv(rdv_context *ctx, int peer, void *buf, size_t len,
             int timeout_ms)
{
    return blocking(ctx, peer, 0, buf, len, timeout_ms);
}
