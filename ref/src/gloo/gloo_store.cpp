/*
 * gloo/gloo_store.cpp - rdv::GlooStore: an rdv_store behind Gloo's Store
 * interface (rdv/gloo_store.hpp states the contract).
 *
 * Choices:
 * - Errors become gloo::IoException with rdv's detail: Gloo's code and
 *   its users already catch gloo::Exception around rendezvous.
 * - Timeouts pass through as milliseconds, clamped to int (rdv's unit);
 *   a negative one is rdv's "no limit".
 * - No caching, no retries of its own: what rdv's store does is what
 *   Gloo sees, so rdv's fault store and recorder apply unchanged.
 */
#include <climits>
#include <cstdlib>
#include <string>

#include <gloo/common/error.h>

#include "rdv/gloo_store.hpp"
#include "rdv/status.h"

namespace rdv {
namespace {

[[noreturn]] void raise(rdv_store *s, const char *op, const std::string &key,
                        int rc)
{
    const char *detail = s ? rdv_store_errmsg(s) : "";
    throw ::gloo::IoException(
        std::string("rdv store ") + op + " '" + key + "': " +
        (detail && detail[0] ? detail : rdv_strerror(rc)));
}

int to_ms(std::chrono::milliseconds t)
{
    if (t.count() < 0)
        return -1;
    return t.count() > INT_MAX ? INT_MAX : static_cast<int>(t.count());
}

} // namespace

GlooStore::GlooStore(const std::string &url)
    : store_(nullptr), owned_(true), timeout_(kDefaultTimeout)
{
    char err[1024];
    int rc = rdv_store_open(url.c_str(), &store_, err, sizeof err);
    if (rc)
        throw ::gloo::IoException(std::string("rdv::GlooStore: ") +
                                  (err[0] ? err : rdv_strerror(rc)));
}

GlooStore::GlooStore(rdv_store *store, bool owned)
    : store_(store), owned_(owned), timeout_(kDefaultTimeout)
{
    if (!store)
        throw ::gloo::InvalidOperationException(
            "rdv::GlooStore: the rdv_store handle is NULL");
}

GlooStore::~GlooStore()
{
    if (owned_)
        rdv_store_close(store_);
}

void GlooStore::set(const std::string &key, const std::vector<char> &data)
{
    int rc = rdv_store_set(store_, key.c_str(), data.data(), data.size(), 0);
    if (rc)
        raise(store_, "set", key, rc);
}

std::vector<char> GlooStore::get(const std::string &key)
{
    void *val = nullptr;
    size_t len = 0;
    int rc = rdv_store_get(store_, key.c_str(), &val, &len, to_ms(timeout_));
    if (rc)
        raise(store_, "get", key, rc);
    const char *p = static_cast<const char *>(val);
    std::vector<char> out;
    try {
        out.assign(p, p + len);
    } catch (...) {
        std::free(val);
        throw;
    }
    std::free(val);
    return out;
}

void GlooStore::wait(const std::vector<std::string> &keys)
{
    wait(keys, timeout_);
}

void GlooStore::wait(const std::vector<std::string> &keys,
                     const std::chrono::milliseconds &timeout)
{
    std::vector<const char *> k;
    k.reserve(keys.size());
    for (const auto &key : keys)
        k.push_back(key.c_str());
    int rc = rdv_store_wait(store_, k.data(), k.size(), to_ms(timeout));
    if (rc)
        raise(store_, "wait", keys.empty() ? std::string() : keys[0], rc);
}

} // namespace rdv
