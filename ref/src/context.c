/*
 * context.c - a rank's context: options, the sticky error detail, the
 * hooks and counters, and ownership of the transport.
 *
 * The rendezvous (rendezvous/mesh.c) and the data plane
 * (transport/api.c) build on the accessors in context_internal.h; this
 * file holds no protocol. The transport, and with it the io_uring, is
 * only made when the context connects, so a context is never carrying
 * a ring across fork. Options come in through options.c, which checks
 * their struct_size, and RDV_TIMEOUT_DEFAULT is resolved here once.
 * A launcher that asked (`rdv launch --context-checks`) is told when a
 * context is made, fails or connects (context_report.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_env.h"
#include "context_internal.h"
#include "context_report.h"
#include "options.h"
#include "rdv/clock.h"
#include "transport/sockaddr.h"

/* The end of the options' first version: older callers pass no less. */
#define OPTIONS_V1_SIZE                                                     \
    (offsetof(rdv_context_options, hooks) + sizeof(const rdv_hooks *))

struct rdv_context {
    int rank, size, timeout_ms, handshake_ms, recheck_ms;
    char *job, *bind, *transport_name;
    rdv_log_fn log;
    void *log_arg;
    const rdv_hooks *hooks;
    rdv_transport *t;
    int connected;
    int failed; /* status of the first failure, 0 while usable */
    rdv_context_counters counters;
    char detail[RDV_DETAIL_MAX];
};

void rdv_context_options_init(rdv_context_options *o, size_t size)
{
    rdv_context_options d;

    memset(&d, 0, sizeof d);
    d.rank = 0;
    d.size = 1;
    d.timeout_ms = RDV_CONTEXT_TIMEOUT_MS;
    rdv_options_fill(o, size, &d, sizeof d);
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* handshake_ms's default for a rendezvous of size ranks (rdv/context.h
 * says why it grows with the size). */
static int default_handshake_ms(int size)
{
    long long ms = (long long)size * RDV_CONTEXT_HANDSHAKE_MS_PER_RANK;

    if (ms < RDV_CONTEXT_HANDSHAKE_MS)
        return RDV_CONTEXT_HANDSHAKE_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The caller's options, checked; the reason in errbuf when not. */
static int options_check(const rdv_context_options *opts,
                         rdv_context_options *o, char *errbuf,
                         size_t errlen)
{
    char why[RDV_DETAIL_MAX / 2];
    int ret;

    rdv_context_options_init(o, sizeof *o);
    ret = rdv_options_take(o, sizeof *o, opts, OPTIONS_V1_SIZE,
                           "rdv_context_options", why, sizeof why);
    if (ret != RDV_OK) {
        snprintf(errbuf, errlen, "context: %s", why);
        return ret;
    }
    if (o->size < 1 || o->size > 65536 || o->rank < 0 ||
        o->rank >= o->size) {
        snprintf(errbuf, errlen,
                 "context: rank %d is not in [0, size %d) (size 1..65536)",
                 o->rank, o->size);
        return RDV_EINVAL;
    }
    if (o->job && (!*o->job || strlen(o->job) > 256)) {
        snprintf(errbuf, errlen, "context: job name must be 1..256 bytes");
        return RDV_EINVAL;
    }
    if (o->transport && strcmp(o->transport, "uring") &&
        strcmp(o->transport, "epoll")) {
        snprintf(errbuf, errlen,
                 "context: unknown transport \"%s\" (want uring or epoll)",
                 o->transport);
        return RDV_EINVAL;
    }
    return RDV_OK;
}

int rdv_context_create(const rdv_context_options *opts, rdv_context **out,
                       char *errbuf, size_t errlen)
{
    rdv_context_options o;
    rdv_context *c;
    int oom = 0, ret;

    if (!opts || !out) {
        snprintf(errbuf, errlen, "context: NULL options or output");
        return RDV_EINVAL;
    }
    if ((ret = options_check(opts, &o, errbuf, errlen)) != RDV_OK)
        return ret;
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errbuf, errlen, "context: out of memory");
        return RDV_ENOMEM;
    }
    c->rank = o.rank;
    c->size = o.size;
    c->timeout_ms = o.timeout_ms == RDV_TIMEOUT_DEFAULT
                        ? RDV_CONTEXT_TIMEOUT_MS
                        : o.timeout_ms;
    c->job = dup_or_null(o.job ? o.job : "rdv", &oom);
    c->bind = dup_or_null(o.bind, &oom);
    c->transport_name = dup_or_null(o.transport, &oom);
    c->log = o.log;
    c->log_arg = o.log_arg;
    c->hooks = rdv_fault_env_hooks(o.hooks); /* RDV_FAULTS, if set */
    c->handshake_ms = o.handshake_ms ? o.handshake_ms
                                     : default_handshake_ms(o.size);
    c->recheck_ms = o.recheck_ms ? o.recheck_ms : RDV_CONTEXT_RECHECK_MS;
    if (oom) {
        rdv_context_destroy(c);
        snprintf(errbuf, errlen, "context: out of memory");
        return RDV_ENOMEM;
    }
    *out = c;
    rdv_ctx_report_created(c); /* RDV_CONTEXT_REPORT_FD, if set */
    return RDV_OK;
}

void rdv_context_destroy(rdv_context *ctx)
{
    if (!ctx)
        return;
    rdv_transport_close(ctx->t);
    free(ctx->job);
    free(ctx->bind);
    free(ctx->transport_name);
    free(ctx);
}

const char *rdv_context_errmsg(const rdv_context *ctx)
{
    return ctx ? ctx->detail : "";
}

int rdv_context_rank(const rdv_context *ctx) { return ctx->rank; }
int rdv_context_size(const rdv_context *ctx) { return ctx->size; }
int rdv_context_timeout_ms(const rdv_context *ctx) { return ctx->timeout_ms; }
int rdv_context_handshake_ms(const rdv_context *ctx)
{
    return ctx->handshake_ms;
}
int rdv_context_recheck_ms(const rdv_context *ctx)
{
    return ctx->recheck_ms;
}
const char *rdv_context_job(const rdv_context *ctx) { return ctx->job; }
const char *rdv_context_bind(const rdv_context *ctx) { return ctx->bind; }

const char *rdv_context_transport_name(const rdv_context *ctx)
{
    return ctx->t ? rdv_transport_backend(ctx->t) : "none";
}

rdv_transport *rdv_context_transport(rdv_context *ctx)
{
    return ctx->connected ? ctx->t : NULL;
}

void rdv_context_log(rdv_context *ctx, const char *fmt, ...)
{
    char line[RDV_DETAIL_MAX];
    va_list ap;

    if (!ctx->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_arg, ctx->rank, line);
}

int rdv_context_fail(rdv_context *ctx, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->detail, sizeof ctx->detail, fmt, ap);
    va_end(ap);
    if (!ctx->failed)
        ctx->failed = status;
    rdv_ctx_report_failed(ctx, status, ctx->detail);
    rdv_context_log(ctx, "error: %s: %s", rdv_status_name(status),
                    ctx->detail);
    return status;
}

int rdv_context_check_usable(rdv_context *ctx)
{
    if (ctx->failed)
        return RDV_ESTATE; /* the detail still names the first failure */
    if (!ctx->connected) {
        snprintf(ctx->detail, sizeof ctx->detail,
                 "rank %d: context is not connected yet", ctx->rank);
        return RDV_ESTATE;
    }
    return RDV_OK;
}

int rdv_context_timeout_for(const rdv_context *ctx, int timeout_ms)
{
    return timeout_ms == RDV_TIMEOUT_DEFAULT ? ctx->timeout_ms : timeout_ms;
}

int64_t rdv_context_deadline(const rdv_context *ctx, int timeout_ms)
{
    return rdv_deadline_from_ms(rdv_context_timeout_for(ctx, timeout_ms));
}

int rdv_context_open_transport(rdv_context *ctx, rdv_transport **out)
{
    char err[RDV_DETAIL_MAX];
    int ret;

    if (!ctx->t) {
        ret = rdv_transport_open(&ctx->t, ctx->transport_name, ctx->rank,
                                 ctx->size, err, sizeof err);
        if (ret != RDV_OK)
            return rdv_context_fail(ctx, ret, "rank %d: %s", ctx->rank, err);
        rdv_transport_set_hooks(ctx->t, ctx->hooks);
    }
    *out = ctx->t;
    return RDV_OK;
}

int rdv_context_is_fresh(const rdv_context *ctx)
{
    return !ctx->connected && !ctx->failed;
}

void rdv_context_set_connected(rdv_context *ctx)
{
    ctx->connected = 1;
    rdv_ctx_report_connected(ctx);
}

void rdv_context_phase(rdv_context *ctx, rdv_phase p)
{
    rdv_context_log(ctx, "phase %s", rdv_phase_name(p));
    if (ctx->hooks && ctx->hooks->phase)
        ctx->hooks->phase(ctx->hooks->arg, p);
}

int rdv_context_hook_connect(rdv_context *ctx, int peer, unsigned attempt)
{
    if (ctx->hooks && ctx->hooks->connect)
        return ctx->hooks->connect(ctx->hooks->arg, peer, attempt);
    return 0;
}

rdv_context_counters *rdv_context_counters_mut(rdv_context *ctx)
{
    return &ctx->counters;
}

const char *rdv_phase_name(rdv_phase p)
{
    static const char *const names[RDV_PHASE_COUNT] = {
        [RDV_PHASE_BEFORE_PUBLISH] = "before-publish",
        [RDV_PHASE_AFTER_PUBLISH] = "after-publish",
        [RDV_PHASE_CONNECTING] = "connecting",
        [RDV_PHASE_CONNECTED] = "connected",
        [RDV_PHASE_IN_COLLECTIVE] = "in-collective",
    };

    if ((unsigned)p >= RDV_PHASE_COUNT)
        return NULL;
    return names[p];
}

int rdv_context_connect_fds(rdv_context *ctx, const int *fds)
{
    rdv_transport *t = NULL;
    int ret = RDV_OK;

    if (ctx->connected || ctx->failed) {
        ret = rdv_context_fail(ctx, RDV_ESTATE,
                               "rank %d: context already connected or failed",
                               ctx->rank);
    } else {
        ret = rdv_context_open_transport(ctx, &t);
    }
    for (int i = 0; i < ctx->size; i++) {
        if (i == ctx->rank || fds[i] < 0)
            continue;
        if (ret != RDV_OK) {
            close(fds[i]);
            continue;
        }
        int r = rdv_transport_attach(t, i, fds[i], NULL);
        if (r != RDV_OK)
            ret = rdv_context_fail(ctx, r, "rank %d: %s", ctx->rank,
                                   rdv_transport_errmsg(t));
    }
    for (int i = 0; ret == RDV_OK && i < ctx->size; i++)
        if (i != ctx->rank && fds[i] < 0)
            ret = rdv_context_fail(ctx, RDV_EINVAL,
                                   "rank %d: no socket given for rank %d",
                                   ctx->rank, i);
    if (ret == RDV_OK)
        rdv_context_set_connected(ctx);
    return ret;
}

int rdv_context_peer_info(const rdv_context *ctx, int peer,
                          rdv_peer_info *out)
{
    socklen_t l1 = sizeof out->local, l2 = sizeof out->remote;
    int fd;

    if (!ctx || !out || peer < 0 || peer >= ctx->size || peer == ctx->rank)
        return RDV_EINVAL;
    if (!ctx->connected)
        return RDV_ESTATE;
    fd = rdv_transport_peer_fd(ctx->t, peer);
    memset(out, 0, sizeof *out);
    out->peer = peer;
    if (fd < 0)
        errno = ENOTCONN; /* the transport has no socket for it */
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&out->local, &l1) < 0 ||
        getpeername(fd, (struct sockaddr *)&out->remote, &l2) < 0)
        return RDV_EIO;
    return RDV_OK;
}

void rdv_context_get_counters(const rdv_context *ctx,
                              rdv_context_counters *out)
{
    *out = ctx->counters;
    if (ctx->t)
        rdv_transport_bytes(ctx->t, &out->bytes_sent, &out->bytes_received);
}
