/*
 * gloo/gloo_mesh.cpp - the C face of Gloo's rendezvous and collectives
 * (gloo_mesh.h states the contract).
 *
 * Choices:
 * - Phases come from a GlooStore subclass watching Gloo's store ops: the
 *   only points of connectFullMesh visible from outside it.
 * - Every entry point catches everything: a gloo::Exception's what() is
 *   the rank's error text as Gloo wrote it (error-quality judges Gloo's
 *   words, not ours); its status is RDV_ETIMEDOUT when Gloo says it timed
 *   out, RDV_EIO otherwise.
 * - Each collective gets the next tag, as Gloo's own examples do, so two
 *   steps never match each other's messages.
 */
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/math.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/transport/tcp/device.h>

#include "gloo_mesh.h"
#include "rdv/gloo_store.hpp"
#include "rdv/status.h"

namespace {

/* Reports the publish phases from Gloo's own store ops and remembers
 * what it set, for rdv_gloo_mesh_unpublish. */
class PhaseStore : public rdv::GlooStore {
  public:
    PhaseStore(rdv_store *s, int rank, const rdv_hooks *hooks)
        : rdv::GlooStore(s, false), store_(s), hooks_(hooks),
          addr_key_(std::to_string(rank)) {}

    /* Gloo's connectFullMesh sets "rank_<r>" (its hostname, for local
     * ranks) and then "<r>" (its pairs' addresses): publishing is done
     * when the address record is written. */
    void set(const std::string &key, const std::vector<char> &data) override
    {
        if (!began_) {
            began_ = true;
            phase(RDV_PHASE_BEFORE_PUBLISH);
        }
        keys_.push_back(key);
        rdv::GlooStore::set(key, data);
        if (!published_ && key == addr_key_) {
            published_ = true;
            phase(RDV_PHASE_AFTER_PUBLISH);
        }
    }
    std::vector<char> get(const std::string &key) override
    {
        connecting();
        return rdv::GlooStore::get(key);
    }
    void wait(const std::vector<std::string> &keys,
              const std::chrono::milliseconds &timeout) override
    {
        connecting();
        rdv::GlooStore::wait(keys, timeout);
    }
    using rdv::GlooStore::wait;

    void phase(rdv_phase p) const
    {
        if (hooks_ && hooks_->phase)
            hooks_->phase(hooks_->arg, p);
    }
    rdv_store *handle() const { return store_; }
    const std::vector<std::string> &keys() const { return keys_; }

  private:
    void connecting()
    {
        if (published_ && !connecting_) {
            connecting_ = true;
            phase(RDV_PHASE_CONNECTING);
        }
    }

    rdv_store *store_;
    const rdv_hooks *hooks_;
    std::string addr_key_;
    bool began_ = false, published_ = false, connecting_ = false;
    std::vector<std::string> keys_;
};

template <typename T> gloo::AllreduceOptions::Func reduce_fn(rdv_op op)
{
    using F = void (*)(void *, const void *, const void *, size_t);
    switch (op) {
    case RDV_PROD: return static_cast<F>(&gloo::product<T>);
    case RDV_MIN: return static_cast<F>(&gloo::min<T>);
    case RDV_MAX: return static_cast<F>(&gloo::max<T>);
    case RDV_SUM: break;
    }
    return static_cast<F>(&gloo::sum<T>);
}

} // namespace

struct rdv_gloo_mesh {
    std::unique_ptr<PhaseStore> store;
    std::shared_ptr<gloo::rendezvous::Context> ctx;
    std::chrono::milliseconds timeout;
    uint32_t tag = 0;
};

namespace {

int fail(const char *what, char *err, size_t errlen, int rc = RDV_EIO)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", what);
    return rc;
}

/* Runs fn, turning whatever it throws into a status and err. */
template <typename Fn> int guarded(char *err, size_t errlen, Fn fn)
{
    try {
        fn();
        return RDV_OK;
    } catch (const std::bad_alloc &) {
        return fail("gloo: out of memory", err, errlen, RDV_ENOMEM);
    } catch (const std::exception &e) {
        const char *w = e.what();
        int rc = std::strstr(w, "imeout") || std::strstr(w, "imed out")
                     ? RDV_ETIMEDOUT : RDV_EIO;
        return fail(w, err, errlen, rc);
    } catch (...) {
        return fail("gloo: an exception that is not a std::exception", err,
                    errlen);
    }
}

template <typename T, typename Opts>
void set_io(Opts &o, const void *send, void *recv, size_t in, size_t out)
{
    o.setInput(const_cast<T *>(static_cast<const T *>(send)), in);
    o.setOutput(static_cast<T *>(recv), out);
}

} // namespace

/* The entry points: C linkage comes from their declarations in
 * gloo_mesh.h. */

int rdv_gloo_mesh_create(rdv_store *store, int rank, int size,
                         int timeout_ms, const rdv_hooks *hooks,
                         rdv_gloo_mesh **out)
{
    *out = nullptr;
    return guarded(nullptr, 0, [&] {
        auto mesh = std::make_unique<rdv_gloo_mesh>();

        mesh->timeout = std::chrono::milliseconds(timeout_ms);
        mesh->store = std::make_unique<PhaseStore>(store, rank, hooks);
        mesh->store->setTimeout(mesh->timeout);
        mesh->ctx = std::make_shared<gloo::rendezvous::Context>(rank, size);
        mesh->ctx->setTimeout(mesh->timeout);
        *out = mesh.release();
    });
}

int rdv_gloo_mesh_connect(rdv_gloo_mesh *m, const char *bind, char *err,
                          size_t errlen)
{
    return guarded(err, errlen, [&] {
        gloo::transport::tcp::attr attr(bind);
        auto dev = gloo::transport::tcp::CreateDevice(attr);

        m->ctx->connectFullMesh(*m->store, dev);
        m->store->phase(RDV_PHASE_CONNECTED);
    });
}

void rdv_gloo_mesh_destroy(rdv_gloo_mesh *m)
{
    try {
        delete m;
    } catch (...) {
        /* a destructor that throws: nothing left to tell anyone */
    }
}

int rdv_gloo_barrier(rdv_gloo_mesh *m, char *err, size_t errlen)
{
    return guarded(err, errlen, [&] {
        gloo::BarrierOptions o(m->ctx);
        o.setTag(m->tag++);
        o.setTimeout(m->timeout);
        m->store->phase(RDV_PHASE_IN_COLLECTIVE);
        gloo::barrier(o);
    });
}

template <typename T>
static void broadcast_as(rdv_gloo_mesh *m, void *buf, size_t count, int root)
{
    gloo::BroadcastOptions o(m->ctx);
    o.setTag(m->tag++);
    o.setTimeout(m->timeout);
    o.setRoot(root);
    if (m->ctx->rank == root)
        o.setInput(static_cast<T *>(buf), count);
    o.setOutput(static_cast<T *>(buf), count);
    m->store->phase(RDV_PHASE_IN_COLLECTIVE);
    gloo::broadcast(o);
}

int rdv_gloo_broadcast(rdv_gloo_mesh *m, void *buf, size_t count,
                       rdv_dtype t, int root, char *err, size_t errlen)
{
    return guarded(err, errlen, [&] {
        switch (t) {
        case RDV_INT32: broadcast_as<int32_t>(m, buf, count, root); break;
        case RDV_INT64: broadcast_as<int64_t>(m, buf, count, root); break;
        case RDV_FLOAT: broadcast_as<float>(m, buf, count, root); break;
        case RDV_DOUBLE: broadcast_as<double>(m, buf, count, root); break;
        }
    });
}

template <typename T>
static void allgather_as(rdv_gloo_mesh *m, const void *send, void *recv,
                         size_t count)
{
    gloo::AllgatherOptions o(m->ctx);
    o.setTag(m->tag++);
    o.setTimeout(m->timeout);
    set_io<T>(o, send, recv, count, count * (size_t)m->ctx->size);
    m->store->phase(RDV_PHASE_IN_COLLECTIVE);
    gloo::allgather(o);
}

int rdv_gloo_allgather(rdv_gloo_mesh *m, const void *send, void *recv,
                       size_t count, rdv_dtype t, char *err, size_t errlen)
{
    return guarded(err, errlen, [&] {
        switch (t) {
        case RDV_INT32: allgather_as<int32_t>(m, send, recv, count); break;
        case RDV_INT64: allgather_as<int64_t>(m, send, recv, count); break;
        case RDV_FLOAT: allgather_as<float>(m, send, recv, count); break;
        case RDV_DOUBLE: allgather_as<double>(m, send, recv, count); break;
        }
    });
}

template <typename T>
static void allreduce_as(rdv_gloo_mesh *m, const void *send, void *recv,
                         size_t count, rdv_op op)
{
    gloo::AllreduceOptions o(m->ctx);
    o.setTag(m->tag++);
    o.setTimeout(m->timeout);
    set_io<T>(o, send, recv, count, count);
    o.setReduceFunction(reduce_fn<T>(op));
    m->store->phase(RDV_PHASE_IN_COLLECTIVE);
    gloo::allreduce(o);
}

int rdv_gloo_allreduce(rdv_gloo_mesh *m, const void *send, void *recv,
                       size_t count, rdv_dtype t, rdv_op op, char *err,
                       size_t errlen)
{
    return guarded(err, errlen, [&] {
        switch (t) {
        case RDV_INT32: allreduce_as<int32_t>(m, send, recv, count, op); break;
        case RDV_INT64: allreduce_as<int64_t>(m, send, recv, count, op); break;
        case RDV_FLOAT: allreduce_as<float>(m, send, recv, count, op); break;
        case RDV_DOUBLE: allreduce_as<double>(m, send, recv, count, op); break;
        }
    });
}

template <typename T> const gloo::ReductionFunction<T> *reduction(rdv_op op)
{
    switch (op) {
    case RDV_PROD: return gloo::ReductionFunction<T>::product;
    case RDV_MIN: return gloo::ReductionFunction<T>::min;
    case RDV_MAX: return gloo::ReductionFunction<T>::max;
    default: return gloo::ReductionFunction<T>::sum;
    }
}

/* Gloo's only reduce-scatter is the algorithm class of its older API:
 * it works in place on the whole buffer and leaves this rank's reduced
 * block at its start (its distribution phase writes from offset 0), so
 * the input is copied in and the block's count copied out. Blocks are
 * split as rdv_reduce_scatter splits them. */
template <typename T>
static void reduce_scatter_as(rdv_gloo_mesh *m, const void *send, void *recv,
                              size_t count, rdv_op op)
{
    const int size = m->ctx->size, rank = m->ctx->rank;
    const size_t base = count / (size_t)size, extra = count % (size_t)size;
    std::vector<T> all(static_cast<const T *>(send),
                       static_cast<const T *>(send) + count);
    std::vector<T *> ptrs{all.data()};
    std::vector<int> counts;

    for (int r = 0; r < size; r++)
        counts.push_back((int)(base + ((size_t)r < extra)));
    m->store->phase(RDV_PHASE_IN_COLLECTIVE);
    gloo::ReduceScatterHalvingDoubling<T> rs(m->ctx, ptrs, (int)count,
                                             counts, reduction<T>(op));
    rs.run();
    std::memcpy(recv, all.data(), (size_t)counts[rank] * sizeof(T));
}

int rdv_gloo_reduce_scatter(rdv_gloo_mesh *m, const void *send, void *recv,
                            size_t count, rdv_dtype t, rdv_op op, char *err,
                            size_t errlen)
{
    return guarded(err, errlen, [&] {
        switch (t) {
        case RDV_INT32: reduce_scatter_as<int32_t>(m, send, recv, count, op); break;
        case RDV_INT64: reduce_scatter_as<int64_t>(m, send, recv, count, op); break;
        case RDV_FLOAT: reduce_scatter_as<float>(m, send, recv, count, op); break;
        case RDV_DOUBLE: reduce_scatter_as<double>(m, send, recv, count, op); break;
        }
    });
}

int rdv_gloo_mesh_unpublish(rdv_gloo_mesh *m, char *err, size_t errlen)
{
    for (const auto &key : m->store->keys()) {
        int rc = rdv_store_delete(m->store->handle(), key.c_str());
        if (rc == RDV_ENOTSUP) /* a gloo-level store: Gloo's own case */
            return RDV_OK;
        if (rc) {
            std::snprintf(err, errlen, "removing Gloo's key '%s': %s",
                          key.c_str(), rdv_store_errmsg(m->store->handle()));
            return rc;
        }
    }
    return RDV_OK;
}

extern "C" __attribute__((visibility("default")))
const rdv_gloo_mesh_api rdv_gloo_mesh_module = {
    rdv_gloo_mesh_create, rdv_gloo_mesh_connect, rdv_gloo_mesh_destroy,
    rdv_gloo_barrier,     rdv_gloo_broadcast,    rdv_gloo_allgather,
    rdv_gloo_allreduce,   rdv_gloo_mesh_unpublish, rdv_gloo_reduce_scatter,
};
