/*
 * gloo/gloo_plugin.cpp - Gloo's own stores as one rdv plugin, the module
 * behind librdv's gloo+file:, gloo+hash: and gloo+redis: schemes
 * (ref/src/stores/gloo.c turns the URL into the gloo.* options read
 * here). Built with rdv/gloo_plugin.hpp, the same template users get.
 *
 * Choices:
 * - The stores are Gloo's, unchanged: FileStore on the directory,
 *   RedisStore on host:port, HashStore, and PrefixStore over any of them
 *   for prefix=. Nothing here fixes what Gloo does; conform reports it.
 * - gloo+hash: is one map per process (all handles of this process share
 *   it, as Gloo's ranks share a HashStore in threads): held while any
 *   handle holds it.
 * - RedisStore keeps one hiredis connection and is not thread-safe: each
 *   thread calling a handle gets a RedisStore of its own (made on its
 *   first call, kept until the handle closes), so a wait blocked in one
 *   thread never holds up a set from another, as one Gloo process's
 *   threads would each hold their own store.
 */
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <stdexcept>
#include <string>

#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/hash_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/rendezvous/redis_store.h>

#include "rdv/gloo_plugin.hpp"

namespace {

using ::gloo::rendezvous::Store;

/* A Store handed around as shared (gloo+hash:'s one map per process). */
class SharedStore : public Store {
  public:
    explicit SharedStore(std::shared_ptr<Store> s) : s_(std::move(s)) {}
    void set(const std::string &k, const std::vector<char> &v) override
    {
        s_->set(k, v);
    }
    std::vector<char> get(const std::string &k) override { return s_->get(k); }
    void wait(const std::vector<std::string> &k) override { s_->wait(k); }
    void wait(const std::vector<std::string> &k,
              const std::chrono::milliseconds &t) override
    {
        s_->wait(k, t);
    }

  private:
    std::shared_ptr<Store> s_;
};

/* Gloo's PrefixStore borrows its inner store; this one owns it. */
class OwningPrefixStore : public Store {
  public:
    OwningPrefixStore(const std::string &prefix, std::unique_ptr<Store> inner)
        : inner_(std::move(inner)), prefix_(prefix, *inner_)
    {
    }
    void set(const std::string &k, const std::vector<char> &v) override
    {
        prefix_.set(k, v);
    }
    std::vector<char> get(const std::string &k) override
    {
        return prefix_.get(k);
    }
    void wait(const std::vector<std::string> &k) override { prefix_.wait(k); }
    void wait(const std::vector<std::string> &k,
              const std::chrono::milliseconds &t) override
    {
        prefix_.wait(k, t);
    }

  private:
    std::unique_ptr<Store> inner_; /* before prefix_: built first */
    ::gloo::rendezvous::PrefixStore prefix_;
};

/* One inner Store per calling thread, made by make on first use. */
class PerThreadStore : public Store {
  public:
    explicit PerThreadStore(std::function<std::unique_ptr<Store>()> make)
        : make_(std::move(make))
    {
        mine(); /* the creating thread's, so a bad address fails create */
    }
    void set(const std::string &k, const std::vector<char> &v) override
    {
        mine().set(k, v);
    }
    std::vector<char> get(const std::string &k) override
    {
        return mine().get(k);
    }
    void wait(const std::vector<std::string> &k) override { mine().wait(k); }
    void wait(const std::vector<std::string> &k,
              const std::chrono::milliseconds &t) override
    {
        mine().wait(k, t);
    }

  private:
    Store &mine()
    {
        std::lock_guard<std::mutex> g(m_);
        auto &s = stores_[std::this_thread::get_id()];
        if (!s)
            s = make_();
        return *s;
    }
    std::function<std::unique_ptr<Store>()> make_;
    std::mutex m_;
    std::map<std::thread::id, std::unique_ptr<Store>> stores_;
};

std::shared_ptr<Store> process_hash_store()
{
    static std::mutex m;
    static std::weak_ptr<Store> current;
    std::lock_guard<std::mutex> g(m);
    std::shared_ptr<Store> s = current.lock();
    if (!s) {
        s = std::make_shared<::gloo::rendezvous::HashStore>();
        current = s;
    }
    return s;
}

int port_of(const std::string &text)
{
    size_t end = 0;
    int port = std::stoi(text, &end);
    if (end != text.size() || port < 1 || port > 65535)
        throw std::invalid_argument("bad port '" + text + "'");
    return port;
}

std::unique_ptr<Store> make_gloo_store(const rdv::gloo::PluginOptions &o)
{
    std::string kind = o.require("gloo.kind");
    const char *prefix = o.get("prefix");
    std::unique_ptr<Store> s;

    if (kind == "file") {
        s = std::make_unique<::gloo::rendezvous::FileStore>(
            o.require("gloo.path"));
    } else if (kind == "hash") {
        s = std::make_unique<SharedStore>(process_hash_store());
    } else if (kind == "redis") {
        std::string host = o.require("gloo.host");
        int port = port_of(o.require("gloo.port"));
        try {
            s = std::make_unique<PerThreadStore>([host, port] {
                return std::make_unique<::gloo::rendezvous::RedisStore>(host,
                                                                       port);
            });
        } catch (const std::exception &e) {
            throw std::runtime_error("Gloo's RedisStore(" + host + ", " +
                                     std::to_string(port) + "): " + e.what());
        }
    } else {
        throw std::invalid_argument("unknown Gloo store kind '" + kind +
                                    "' (file, hash, redis)");
    }
    if (prefix) {
        if (!prefix[0])
            throw std::invalid_argument("prefix= must be non-empty");
        s = std::make_unique<OwningPrefixStore>(prefix, std::move(s));
    }
    return s;
}

} // namespace

RDV_GLOO_STORE_PLUGIN("gloo", make_gloo_store);
