/*
 * rdv/gloo_store.hpp - any rdv store as a gloo::rendezvous::Store, so a
 * Gloo program rendezvous through rdv's stores (redis with AUTH and
 * reconnect, the race-free file store, hash:?shared=1, tcp://, plugins,
 * exec: adapters) and rdv's fault store, changing one line:
 *
 *     rdv::GlooStore store("redis://:secret@10.0.0.1:6379/0?prefix=job7");
 *     auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, size);
 *     ctx->connectFullMesh(store, device);
 *
 * Link librdv-gloo (CMake rdv::rdv_gloo, pkg-config rdv-gloo); it brings
 * librdv and Gloo. examples/gloo-store/gloo_allreduce.cpp is a whole
 * program.
 *
 * Contract:
 * - set, get and wait are rdv_store_set/get/wait; get blocks until the
 *   key exists for at most timeout() (Gloo's get takes no timeout), wait
 *   for the timeout Gloo gives it, or timeout() for the overload without.
 * - A failure throws gloo::IoException whose what() is rdv's detail
 *   (what, where, who; passwords masked), so Gloo's callers catch it as
 *   they catch their own stores' errors.
 * - Open per process: a handle belongs to the process that opened it,
 *   except hash:?shared=1, whose handle is made before fork() and used
 *   by the children (the constructor taking an rdv_store * borrows one).
 * - Threads: as safe as the rdv store underneath (all built-in ones are).
 */
#ifndef RDV_GLOO_STORE_HPP
#define RDV_GLOO_STORE_HPP

#include <chrono>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

#include "rdv/store.h"

namespace rdv {

class __attribute__((visibility("default"))) GlooStore
    : public ::gloo::rendezvous::Store {
  public:
    /* Opens url with rdv_store_open(); throws gloo::IoException with
     * rdv's message when it cannot. */
    explicit GlooStore(const std::string &url);
    /* Uses an open handle; closes it at destruction only when owned. */
    GlooStore(rdv_store *store, bool owned);
    ~GlooStore() override;
    GlooStore(const GlooStore &) = delete;
    GlooStore &operator=(const GlooStore &) = delete;

    void set(const std::string &key, const std::vector<char> &data) override;
    std::vector<char> get(const std::string &key) override;
    void wait(const std::vector<std::string> &keys) override;
    void wait(const std::vector<std::string> &keys,
              const std::chrono::milliseconds &timeout) override;

    /* Bounds get() and the wait() without a timeout; starts at
     * Store::kDefaultTimeout. Negative: no limit. */
    void setTimeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
    std::chrono::milliseconds timeout() const { return timeout_; }
    /* The rdv handle, for the rdv calls Gloo has no name for. */
    rdv_store *handle() const { return store_; }

  private:
    rdv_store *store_;
    bool owned_;
    std::chrono::milliseconds timeout_;
};

} // namespace rdv

#endif
