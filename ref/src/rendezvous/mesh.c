/*
 * rendezvous/mesh.c - rdv_context_connect_full_mesh(): the driver.
 *
 * Order matters and is the protocol's backbone:
 *   1. listen (port 0, backlog max(N + 64, 4096): a burst of strangers
 *      queues instead of dropping a peer's SYN for a second) and arm
 *      the accept, so that
 *   2. the record published next is reachable the moment it is read;
 *   3. read everyone's record in batches, starting connects to lower
 *      ranks batch by batch (records.c, links.c);
 *   4. run the event loop until N-1 links are up or the deadline;
 *   5. hand the links to the transport, remove this rank's key.
 * The deadline covers all of it, the listening side included. On
 * failure the detail says which ranks never published, which were
 * published but unreachable (address, errno, attempts) and which never
 * connected; every socket is closed and the key removed. A peer on this
 * host (same hostname) whose pid has exited fails the mesh at once
 * (RDV_EPEER) rather than at the deadline; this assumes ranks sharing a
 * hostname share a pid namespace, as forked ranks and ordinary hosts do.
 *
 * Step 2-3's record exchange is a seam: the store path publishes and
 * reads in batches; rdv_context_connect_full_mesh_exchange()
 * (rdv/exchange.h) takes the caller's exchange (librdv-mpi's
 * MPI_Allgather) that hands over every record at once, and everything
 * else, validation included, is the same code. That exchange is called
 * exactly once per call, also by a rank that failed before it had a
 * record (it "drops out"), because a collective exchange such as MPI's
 * would otherwise leave every other rank blocked in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "mesh.h"
#include "rdv/clock.h"
#include "self_pid.h"
#include "transport/sockaddr.h"

/* How often a waiting rank looks for peers on this host that died, and
 * how many it looks at per look. Each look reads /proc, and every rank
 * of a host does it: looking at every missing peer each time cost
 * O(N^2) /proc reads per period, which at N = 1024 took the CPU the
 * ranks needed to connect. A rotating window keeps a rank's cost
 * constant; a dead peer is still found within ceil(missing / BATCH)
 * looks, at once when it is the last one missing. */
#define LIVENESS_NS (250 * 1000000ll)
#define LIVENESS_BATCH 16

_Static_assert(RDV_RECORD_SIZE == RDV_EXCHANGE_RECORD_SIZE,
               "rdv/exchange.h publishes the record size");

int rdv_mesh_fail(rdv_mesh *m, int status, const char *fmt, ...)
{
    char msg[RDV_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rdv_context_fail(m->ctx, status, "%s", msg);
}

static uint64_t fresh_nonce(void)
{
    uint64_t n = 0;
    ssize_t got;

    do /* EINTR before any byte: ask again, on purpose */
        got = getrandom(&n, sizeof n, 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof n) /* no entropy source: clock and pid */
        n = (uint64_t)rdv_now_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    return n ? n : 1;
}

static int open_listener(rdv_mesh *m)
{
    struct sockaddr_storage ss = m->bind.ss;
    socklen_t sl = sizeof ss;
    int backlog = m->size + 64 > 4096 ? m->size + 64 : 4096, fd;
    int ret = rdv_transport_socket(m->t, m->bind.ss.ss_family, &fd);

    if (ret != RDV_OK)
        return rdv_mesh_fail(m, ret, "rank %d: listening socket: %s",
                             m->rank, rdv_transport_errmsg(m->t));
    m->listen_fd = fd;
    if (bind(fd, (struct sockaddr *)&m->bind.ss, m->bind.len) < 0 ||
        listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return rdv_mesh_fail(m, RDV_EIO, "rank %d: listening on %s: %s",
                             m->rank, m->bind.what, strerror(errno));
    rdv_record_set_addr(&m->me, &ss);
    return RDV_OK;
}

/* The deadline passed with links missing: say who and why. */
static int fail_unconnected(rdv_mesh *m)
{
    char note[320], list[RDV_DETAIL_MAX - 128 - sizeof note] = "";
    size_t off = 0, shown = 0, missing = 0;

    for (int k = 0; k < m->size; k++) {
        const rdv_mesh_peer *p = &m->peers[k];

        if (k == m->rank || p->state == LINK_UP)
            continue;
        if (++missing > 8 || off >= sizeof list - 1)
            continue;
        shown++;
        if (k < m->rank && p->attempt > 0)
            off += (size_t)snprintf(list + off, sizeof list - off,
                                    "%srank %d at %s unreachable (%s: %s, "
                                    "%u attempts)",
                                    off ? "; " : "", k, p->desc,
                                    p->last_what ? p->last_what : "connect",
                                    strerror(p->last_err), p->attempt);
        else if (k < m->rank)
            off += (size_t)snprintf(list + off, sizeof list - off,
                                    "%srank %d at %s did not answer",
                                    off ? "; " : "", k, p->desc);
        else
            off += (size_t)snprintf(list + off, sizeof list - off,
                                    "%srank %d (%s, pid %u on %s) never "
                                    "connected",
                                    off ? "; " : "", k, p->desc,
                                    (unsigned)p->rec.pid, p->rec.hostname);
    }
    if (missing > shown && off < sizeof list)
        snprintf(list + off, sizeof list - off, "; and %zu more",
                 missing - shown);
    rdv_mesh_strangers_note(m, note, sizeof note);
    return rdv_mesh_fail(m, RDV_ETIMEDOUT,
                         "rendezvous timed out after %lld ms: %s%s (%s)",
                         (long long)((rdv_now_ns() - m->started) / 1000000),
                         list, note, m->job);
}

/* 1 when pid no longer runs: no such process, or a zombie. */
static int pid_gone(uint32_t pid)
{
    char path[64], buf[512];
    const char *close_paren;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%u/stat", (unsigned)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    close_paren = strrchr(buf, ')'); /* the name may hold spaces */
    return close_paren && close_paren[1] == ' ' &&
           (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

/* A peer on this host that published and then died fails the mesh now
 * instead of at the deadline. Peers on other hosts (other hostname) are
 * left to the deadline: their pids mean nothing here. Looks at up to
 * LIVENESS_BATCH missing peers, from where the last look stopped. */
static int check_alive(rdv_mesh *m)
{
    int looked = 0;

    for (int i = 0; i < m->size && looked < LIVENESS_BATCH; i++) {
        int k = m->alive_next;
        const rdv_mesh_peer *p = &m->peers[k];

        m->alive_next = k + 1 < m->size ? k + 1 : 0;
        if (k == m->rank || !p->have_record || p->state == LINK_UP ||
            strcmp(p->rec.hostname, m->bind.hostname))
            continue;
        if (looked++, !pid_gone(p->rec.pid))
            continue;
        /* its record is useless now and nobody else will remove it */
        if (m->store) {
            char key[320];
            rdv_mesh_key(m, k, key, sizeof key);
            m->counters->store_ops++;
            rdv_store_delete(m->store, key);
        }
        return rdv_mesh_fail(m, RDV_EPEER,
                             "rendezvous failed after %lld ms: rank %d (pid "
                             "%u on %s, %s) published its record and then "
                             "exited%s (%s)",
                             (long long)((rdv_now_ns() - m->started) / 1000000),
                             k, (unsigned)p->rec.pid, p->rec.hostname, p->desc,
                             m->store ? "; its key was removed" : "", m->job);
    }
    return RDV_OK;
}

/* The store exchange: publish, then read everyone's record in batches. */
static int exchange_store(rdv_mesh *m)
{
    int ret;

    rdv_context_phase(m->ctx, RDV_PHASE_BEFORE_PUBLISH);
    if ((ret = rdv_mesh_publish(m)) != RDV_OK)
        return ret;
    rdv_context_phase(m->ctx, RDV_PHASE_AFTER_PUBLISH);
    rdv_context_phase(m->ctx, RDV_PHASE_CONNECTING);
    return rdv_mesh_read_records(m);
}

/* The caller's exchange hands over every record at once. It has no
 * deadline of its own (MPI_Allgather waits for every rank), so the
 * context's timeout restarts after it and bounds the connects. */
static int exchange_given(rdv_mesh *m)
{
    uint8_t mine[RDV_RECORD_SIZE];
    uint8_t *all = malloc((size_t)m->size * RDV_RECORD_SIZE);
    char err[RDV_DETAIL_MAX - 64] = "";
    rdv_exchange x = {.rank = m->rank, .size = m->size,
                      .record_size = sizeof mine, .mine = mine, .all = all,
                      .err = err, .errlen = sizeof err};
    int ret;

    if (!all)
        return rdv_mesh_fail(m, RDV_ENOMEM, "rank %d: out of memory", m->rank);
    rdv_record_encode(&m->me, mine);
    rdv_context_phase(m->ctx, RDV_PHASE_BEFORE_PUBLISH);
    m->exchanged = 1;
    ret = m->exchange(m->exchange_arg, &x);
    if (ret != RDV_OK) {
        ret = rdv_mesh_fail(m, ret < 0 ? ret : RDV_EIO,
                            "rank %d: record exchange: %s", m->rank,
                            err[0] ? err : rdv_strerror(ret));
    } else {
        m->deadline = rdv_context_deadline(m->ctx, RDV_TIMEOUT_DEFAULT);
        rdv_context_phase(m->ctx, RDV_PHASE_AFTER_PUBLISH);
        rdv_context_phase(m->ctx, RDV_PHASE_CONNECTING);
        if (m->size > 1)
            ret = rdv_mesh_take_records(m, all);
    }
    free(all);
    return ret;
}

/* This rank failed before its exchange: the exchange still runs, with
 * no record and the reason, so the other ranks learn it instead of
 * waiting for this one. What it returns changes nothing here. */
static void drop_out(rdv_mesh *m)
{
    char err[256] = "";
    rdv_exchange x = {.rank = m->rank, .size = m->size,
                      .record_size = RDV_RECORD_SIZE,
                      .reason = rdv_context_errmsg(m->ctx),
                      .err = err, .errlen = sizeof err};

    m->exchanged = 1;
    m->exchange(m->exchange_arg, &x);
}

static int run(rdv_mesh *m)
{
    int ret;

    if ((ret = open_listener(m)) != RDV_OK || (ret = rdv_mesh_listen(m)) != RDV_OK)
        return ret;
    ret = m->exchange ? exchange_given(m) : exchange_store(m);
    if (ret != RDV_OK)
        return ret;
    rdv_context_log(m->ctx, "all %d records read after %lld ms, %d links up",
                    m->size - 1,
                    (long long)((rdv_now_ns() - m->started) / 1000000), m->up);
    int64_t next_check = rdv_now_ns() + LIVENESS_NS;
    int64_t next_recheck = m->store && m->recheck_ns > 0
                               ? rdv_now_ns() + m->recheck_ns
                               : INT64_MAX;
    int up_before = -1;
    while (m->up < m->size - 1) {
        int64_t now = rdv_now_ns(), wake;

        if (now >= m->deadline)
            return fail_unconnected(m);
        if (now >= next_check) {
            /* Only a stalled rank looks for dead peers: while links
             * still come up, a dead one is not what holds it up yet,
             * and the look would take CPU from the ranks connecting. */
            if (m->up == up_before && (ret = check_alive(m)) != RDV_OK)
                return ret;
            up_before = m->up;
            next_check = now + LIVENESS_NS;
        }
        if (now >= next_recheck) {
            if ((ret = rdv_mesh_keep_published(m)) != RDV_OK)
                return ret;
            next_recheck = now + m->recheck_ns;
        }
        wake = next_check < next_recheck ? next_check : next_recheck;
        ret = rdv_mesh_pump(m, wake < m->deadline ? wake : m->deadline);
        if (ret != RDV_OK)
            return ret;
    }
    return RDV_OK;
}

/* Moves the links into the transport; the mesh no longer owns them. */
static int hand_over(rdv_mesh *m)
{
    int ret = RDV_OK;

    for (int k = 0; k < m->size; k++) {
        rdv_mesh_peer *p = &m->peers[k];

        if (k == m->rank || p->fd < 0)
            continue;
        int fd = p->fd;
        p->fd = -1;
        if (ret == RDV_OK) {
            ret = rdv_transport_attach_own(m->t, k, fd, p->desc);
            if (ret != RDV_OK)
                rdv_mesh_fail(m, ret, "rank %d: %s", m->rank,
                              rdv_transport_errmsg(m->t));
        } else {
            close(fd);
        }
    }
    return ret;
}

static void cleanup(rdv_mesh *m)
{
    if (m->listen_fd >= 0) {
        rdv_transport_forget(m->t, m->listen_fd);
        close(m->listen_fd);
        m->listen_fd = -1;
    }
    rdv_mesh_close_pending(m);
    for (int k = 0; m->peers && k < m->size; k++) {
        if (m->peers[k].fd >= 0) {
            rdv_transport_forget(m->t, m->peers[k].fd);
            close(m->peers[k].fd);
        }
    }
    rdv_mesh_unpublish(m);
    free(m->peers);
}

/* The state every path, failed ones included, can clean up. */
static void mesh_reset(rdv_mesh *m, rdv_context *ctx, rdv_store *store,
                       rdv_exchange_fn exchange, void *arg)
{
    memset(m, 0, sizeof *m);
    m->ctx = ctx;
    m->store = store;
    m->exchange = exchange;
    m->exchange_arg = arg;
    m->listen_fd = -1;
    m->rank = rdv_context_rank(ctx);
    m->size = rdv_context_size(ctx);
}

static int mesh_init(rdv_mesh *m)
{
    char err[RDV_DETAIL_MAX];
    int ret;

    m->job = rdv_context_job(m->ctx);
    m->token = rdv_job_token(m->job);
    m->counters = rdv_context_counters_mut(m->ctx);
    m->started = rdv_now_ns();
    m->deadline = rdv_context_deadline(m->ctx, RDV_TIMEOUT_DEFAULT);
    m->handshake_ns = rdv_context_handshake_ms(m->ctx) < 0
                          ? -1
                          : (int64_t)rdv_context_handshake_ms(m->ctx) *
                                1000000;
    m->recheck_ns = rdv_context_recheck_ms(m->ctx) < 0
                        ? -1
                        : (int64_t)rdv_context_recheck_ms(m->ctx) * 1000000;
    m->me.rank = (uint32_t)m->rank;
    m->me.size = (uint32_t)m->size;
    m->me.pid = (uint32_t)rdv_self_pid();
    m->me.nonce = fresh_nonce();
    m->me.token = m->token;
    m->rng = m->me.nonce ^ ((uint64_t)m->me.pid << 32);
    if ((ret = rdv_context_open_transport(m->ctx, &m->t)) != RDV_OK)
        return ret;
    if (m->size == 1)
        return RDV_OK;
    ret = rdv_bind_resolve(rdv_context_bind(m->ctx), &m->bind, err, sizeof err);
    if (ret != RDV_OK)
        return rdv_mesh_fail(m, ret, "rank %d: %s", m->rank, err);
    m->peers = calloc((size_t)m->size, sizeof *m->peers);
    if (!m->peers)
        return rdv_mesh_fail(m, RDV_ENOMEM, "rank %d: out of memory", m->rank);
    for (int k = 0; k < m->size; k++)
        m->peers[k].fd = -1;
    snprintf(m->me.hostname, sizeof m->me.hostname, "%s", m->bind.hostname);
    return RDV_OK;
}

/* The driver; records come from the store, or from exchange when it is
 * set. A rank of one connects to nobody, but still takes part in the
 * caller's exchange: the bootstrap counts on every rank joining it. */
static int connect_mesh(rdv_context *ctx, rdv_store *store,
                        rdv_exchange_fn exchange, void *arg)
{
    rdv_mesh m;
    int ret;

    mesh_reset(&m, ctx, store, exchange, arg);
    if (!rdv_context_is_fresh(ctx))
        ret = rdv_context_fail(ctx, RDV_ESTATE,
                               "rank %d: already connected or failed",
                               m.rank);
    else
        ret = mesh_init(&m);
    if (ret == RDV_OK && m.size > 1)
        ret = run(&m);
    else if (ret == RDV_OK && m.exchange)
        ret = exchange_given(&m);
    if (ret == RDV_OK && m.size > 1)
        ret = hand_over(&m);
    if (m.exchange && !m.exchanged)
        drop_out(&m);
    cleanup(&m);
    if (ret != RDV_OK)
        return ret;
    rdv_context_set_connected(ctx);
    rdv_context_phase(ctx, RDV_PHASE_CONNECTED);
    rdv_context_log(ctx,
                    "mesh of %d ranks up in %lld ms (%s): %llu store calls, "
                    "%llu connect retries, %llu strangers rejected",
                    m.size, (long long)((rdv_now_ns() - m.started) / 1000000),
                    rdv_transport_backend(m.t),
                    (unsigned long long)m.counters->store_ops,
                    (unsigned long long)m.counters->connect_retries,
                    (unsigned long long)m.counters->strangers_rejected);
    return RDV_OK;
}

int rdv_context_connect_full_mesh(rdv_context *ctx, rdv_store *store)
{
    if (!ctx || !store)
        return RDV_EINVAL;
    return connect_mesh(ctx, store, NULL, NULL);
}

int rdv_context_connect_full_mesh_exchange(rdv_context *ctx,
                                           rdv_exchange_fn exchange,
                                           void *arg)
{
    if (!ctx || !exchange)
        return RDV_EINVAL;
    return connect_mesh(ctx, NULL, exchange, arg);
}
