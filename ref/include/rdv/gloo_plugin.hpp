/*
 * rdv/gloo_plugin.hpp - turns a C++ gloo::rendezvous::Store into an rdv
 * store plugin (rdv/plugin.h), so `rdv conform` and `rdv run` judge it.
 *
 *     #include <rdv/gloo_plugin.hpp>
 *
 *     class MyStore : public gloo::rendezvous::Store { ... };
 *
 *     static std::unique_ptr<gloo::rendezvous::Store>
 *     make_my_store(const rdv::gloo::PluginOptions &o)
 *     {
 *         return std::make_unique<MyStore>(o.require("path"));
 *     }
 *     RDV_GLOO_STORE_PLUGIN("mystore", make_my_store);
 *
 * Build it as a MODULE library (it needs Gloo and the C++ runtime, not
 * librdv) and open it as plugin:./libmystore.so?path=/tmp/x. The plugin
 * claims the gloo level of the contract (RDV_PLUGIN_LEVEL_GLOO): set,
 * get, wait and check with timeouts; add, compare_set, delete and list
 * answer RDV_ENOTSUP, and so does a create-only set (Gloo's Store has no
 * atomic create). examples/gloo-store/ is a complete one.
 *
 * How Gloo's calls meet the plugin contract:
 *   set(k, v)          Store::set. A create-only set is RDV_ENOTSUP.
 *   get(k, timeout)    Store::wait({k}, timeout), then Store::get(k):
 *                      Gloo's get has no timeout of its own.
 *   wait(keys, t)      Store::wait(keys, t); a timeout's detail quotes
 *                      Gloo's message (Gloo's Store cannot say which
 *                      keys are missing without more waits, which would
 *                      distort the timing conform measures).
 *   timeouts           Gloo's units differ from rdv's: in Gloo 0 ms is
 *                      kNoTimeout (wait forever). rdv's "no limit"
 *                      (negative) becomes kNoTimeout, and rdv's "try
 *                      once" (0) becomes 1 ms, the shortest wait Gloo
 *                      can express; conform judges what the store does
 *                      with it.
 * Errors: every exception stays inside the plugin. One thrown by a wait
 * or get whose deadline has passed is RDV_ETIMEDOUT, any other
 * RDV_EIO; the detail quotes what() with the op and the key.
 * Threads: the ops call the Store from whatever thread rdv calls them
 * on, as Gloo's own stores allow; a store that is not thread-safe
 * keeps one connection per calling thread (gloo+redis does: a lock
 * around a blocked wait would hold up another thread's set). No
 * cancel: closing a handle waits for its blocked calls to time out.
 * A handle holds its Store until rdv destroys the handle.
 */
#ifndef RDV_GLOO_PLUGIN_HPP
#define RDV_GLOO_PLUGIN_HPP

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

#include "rdv/plugin.h"

namespace rdv {
namespace gloo {

/* The URL's options, as the factory sees them. Reading an option marks
 * it understood; rdv refuses a URL with an option nobody read. */
class PluginOptions {
  public:
    explicit PluginOptions(const rdv_plugin_config *cfg) : cfg_(cfg) {}
    /* The value, or nullptr when the URL does not have the option. */
    const char *get(const char *key) const { return cfg_->option(cfg_, key); }
    /* The value; throws std::invalid_argument naming it when absent. */
    std::string require(const char *key) const
    {
        const char *v = get(key);
        if (!v)
            throw std::invalid_argument(std::string("the option '") + key +
                                        "' is required");
        return v;
    }
    /* The URL, password masked, for messages. */
    const char *url() const { return cfg_->url; }

  private:
    const rdv_plugin_config *cfg_;
};

using StoreFactory =
    std::unique_ptr<::gloo::rendezvous::Store> (*)(const PluginOptions &);

namespace detail {

struct Handle {
    std::unique_ptr<::gloo::rendezvous::Store> store;
    std::mutex m;       /* guards err */
    char err[1024] = "";
};

inline int fail(Handle *h, int status, const char *op, const char *key,
                const char *why)
{
    std::lock_guard<std::mutex> g(h->m);
    if (key)
        std::snprintf(h->err, sizeof h->err, "%s '%s': %s", op, key, why);
    else
        std::snprintf(h->err, sizeof h->err, "%s %s", op, why);
    return status;
}

inline std::chrono::steady_clock::time_point deadline_of(int timeout_ms)
{
    return std::chrono::steady_clock::now() +
           std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 0);
}

/* rdv's timeout in Gloo's units: 0 ms is Gloo's kNoTimeout. */
inline std::chrono::milliseconds gloo_timeout(int timeout_ms)
{
    if (timeout_ms < 0)
        return std::chrono::milliseconds(0); /* kNoTimeout */
    return std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 1);
}

inline void wait_keys(::gloo::rendezvous::Store &s,
                      const std::vector<std::string> &keys, int timeout_ms)
{
    s.wait(keys, gloo_timeout(timeout_ms));
}


/* The status of an exception thrown by a call that had a deadline. */
inline int timed_status(int timeout_ms,
                        std::chrono::steady_clock::time_point deadline)
{
    return timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline
               ? RDV_ETIMEDOUT
               : RDV_EIO;
}

template <StoreFactory Make> struct Adapter {
    static void *create(const rdv_plugin_config *cfg, char *errbuf,
                        size_t errlen)
    {
        try {
            PluginOptions o(cfg);
            std::unique_ptr<Handle> h(new Handle);
            h->store = Make(o);
            if (!h->store)
                throw std::runtime_error("the factory returned no store");
            return h.release();
        } catch (const std::exception &e) {
            std::snprintf(errbuf, errlen, "%s", e.what());
        } catch (...) {
            std::snprintf(errbuf, errlen, "the factory threw a non-standard "
                          "exception");
        }
        return nullptr;
    }

    static void destroy(void *h) { delete static_cast<Handle *>(h); }

    static const char *errmsg(void *h) { return static_cast<Handle *>(h)->err; }

    static int set(void *hv, const char *key, const void *val, size_t len,
                   int flags)
    {
        Handle *h = static_cast<Handle *>(hv);
        if (flags & RDV_PLUGIN_SET_CREATE_ONLY)
            return fail(h, RDV_ENOTSUP, "set", key,
                        "create-only: gloo::rendezvous::Store has no "
                        "atomic create");
        try {
            const char *p = static_cast<const char *>(val);
            h->store->set(key, std::vector<char>(p, p + len));
            return RDV_OK;
        } catch (const std::bad_alloc &) {
            return fail(h, RDV_ENOMEM, "set", key, "out of memory");
        } catch (const std::exception &e) {
            return fail(h, RDV_EIO, "set", key, e.what());
        } catch (...) {
            return fail(h, RDV_EIO, "set", key, "non-standard exception");
        }
    }

    static int get(void *hv, const char *key, void **val, size_t *len,
                   int timeout_ms)
    {
        Handle *h = static_cast<Handle *>(hv);
        auto deadline = deadline_of(timeout_ms);
        try {
            wait_keys(*h->store, {key}, timeout_ms);
        } catch (const std::exception &e) {
            return fail(h, timed_status(timeout_ms, deadline), "get", key,
                        e.what());
        } catch (...) {
            return fail(h, RDV_EIO, "get", key, "non-standard exception");
        }
        try {
            std::vector<char> v = h->store->get(key);
            char *out = static_cast<char *>(std::malloc(v.size() + 1));
            if (!out)
                return fail(h, RDV_ENOMEM, "get", key, "out of memory");
            if (!v.empty())
                std::memcpy(out, v.data(), v.size());
            out[v.size()] = '\0';
            *val = out;
            *len = v.size();
            return RDV_OK;
        } catch (const std::bad_alloc &) {
            return fail(h, RDV_ENOMEM, "get", key, "out of memory");
        } catch (const std::exception &e) {
            return fail(h, RDV_EIO, "get", key, e.what());
        } catch (...) {
            return fail(h, RDV_EIO, "get", key, "non-standard exception");
        }
    }

    static int wait(void *hv, const char *const *keys, size_t n,
                    int timeout_ms)
    {
        Handle *h = static_cast<Handle *>(hv);
        auto deadline = deadline_of(timeout_ms);
        try {
            std::vector<std::string> k(keys, keys + n);
            try {
                wait_keys(*h->store, k, timeout_ms);
                return RDV_OK;
            } catch (const std::bad_alloc &) {
                throw;
            } catch (const std::exception &e) {
                int rc = timed_status(timeout_ms, deadline);
                if (rc != RDV_ETIMEDOUT)
                    return fail(h, rc, "wait", keys[0], e.what());
                std::string why = "timed out after " +
                                  std::to_string(timeout_ms) +
                                  " ms (Gloo: " + e.what() + ")";
                return fail(h, rc, "wait", nullptr, why.c_str());
            }
        } catch (const std::bad_alloc &) {
            return fail(h, RDV_ENOMEM, "wait", nullptr, "out of memory");
        } catch (...) {
            return fail(h, RDV_EIO, "wait", nullptr, "non-standard exception");
        }
    }

    static constexpr rdv_store_plugin table(const char *name)
    {
        rdv_store_plugin t{};
        t.abi_version = RDV_PLUGIN_ABI_VERSION;
        t.struct_size = sizeof(rdv_store_plugin);
        t.name = name;
        t.create = create;
        t.destroy = destroy;
        t.errmsg = errmsg;
        t.set = set;
        t.get = get;
        t.wait = wait;
        t.level = RDV_PLUGIN_LEVEL_GLOO;
        return t;
    }
};

} // namespace detail
} // namespace gloo
} // namespace rdv

/* Exports the plugin table for a Store made by FACTORY, a function
 * std::unique_ptr<gloo::rendezvous::Store> FACTORY(const
 * rdv::gloo::PluginOptions &), which may throw to refuse the options. */
#define RDV_GLOO_STORE_PLUGIN(NAME, FACTORY)                              \
    extern "C" RDV_PLUGIN_EXPORT const rdv_store_plugin rdv_store_plugin_v1 = \
        ::rdv::gloo::detail::Adapter<FACTORY>::table(NAME)

#endif
