/*
 * sqlite_gloo_store.cpp - a user's own gloo::rendezvous::Store (keys and
 * values in one SQLite table, shared by every process that opens the
 * same file) made into an rdv plugin by the last lines of this file:
 *
 *     RDV_GLOO_STORE_PLUGIN("sqlite-gloo", make_store);
 *
 * and certified with
 *
 *     rdv conform --store 'plugin:./librdv_sqlite_gloo_store.so?db=/tmp/g.db'
 *
 * at the gloo level (set, get, wait, check with timeouts), which is all
 * a Gloo Store offers. Built with -DRDV_BROKEN_WAIT_RETURNS it is the
 * deliberately broken store of rdv's tests: a wait that runs out of
 * time returns instead of throwing, so a caller believes missing keys
 * are there (conform's wait-partial catches it).
 *
 * Choices:
 * - One connection per Store object, a busy timeout for writers of other
 *   processes, WAL so readers do not block the writer.
 * - wait polls with backoff (1 ms doubling to 50 ms) until the deadline:
 *   SQLite has no change notification across processes. Gloo's
 *   kNoTimeout (0 ms) waits forever, as Gloo's own stores do.
 * - Keys are bound as BLOBs: any byte, any length SQLite takes.
 * - Failures throw gloo::IoException naming the key and SQLite's words;
 *   a wait's timeout names the keys still missing.
 */
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include <gloo/common/error.h>
#include <gloo/rendezvous/store.h>

#include "rdv/gloo_plugin.hpp"

namespace {

class SqliteStore : public ::gloo::rendezvous::Store {
  public:
    explicit SqliteStore(const std::string &path)
    {
        if (sqlite3_open_v2(path.c_str(), &db_,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                SQLITE_OPEN_FULLMUTEX,
                            nullptr) != SQLITE_OK) {
            std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw ::gloo::IoException("sqlite '" + path + "': " + why);
        }
        sqlite3_busy_timeout(db_, 10000);
        exec("PRAGMA journal_mode=WAL");
        exec("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB)");
    }
    ~SqliteStore() override { sqlite3_close(db_); }

    void set(const std::string &key, const std::vector<char> &data) override
    {
        Stmt st(db_, "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)");
        bind(st, 1, key.data(), key.size());
        bind(st, 2, data.data(), data.size());
        if (sqlite3_step(st.s) != SQLITE_DONE)
            fail("set", key);
    }

    std::vector<char> get(const std::string &key) override
    {
        wait({key}, kDefaultTimeout);
        std::vector<char> v;
        if (!lookup(key, &v))
            throw ::gloo::IoException("get '" + key + "': no such key");
        return v;
    }

    void wait(const std::vector<std::string> &keys) override
    {
        wait(keys, kDefaultTimeout);
    }

    void wait(const std::vector<std::string> &keys,
              const std::chrono::milliseconds &timeout) override
    {
        auto start = std::chrono::steady_clock::now();
        auto nap = std::chrono::milliseconds(1);
        for (;;) {
            std::string missing;
            for (const auto &k : keys)
                if (!lookup(k, nullptr))
                    missing += (missing.empty() ? "" : ", ") + k;
            if (missing.empty())
                return;
            auto waited = std::chrono::steady_clock::now() - start;
            if (timeout.count() > 0 && waited >= timeout) {
#ifdef RDV_BROKEN_WAIT_RETURNS
                return; /* the bug: time is up, so pretend all is there */
#else
                throw ::gloo::IoException(
                    "wait timed out after " + std::to_string(timeout.count()) +
                    " ms; missing: " + missing);
#endif
            }
            auto left = timeout.count() > 0 ? timeout - waited : nap;
            std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
                nap, std::chrono::duration_cast<std::chrono::nanoseconds>(left)));
            nap = std::min(nap * 2, std::chrono::milliseconds(50));
        }
    }

  private:
    struct Stmt {
        sqlite3_stmt *s = nullptr;
        Stmt(sqlite3 *db, const char *sql)
        {
            if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
                throw ::gloo::IoException(std::string("sqlite prepare: ") +
                                          sqlite3_errmsg(db));
        }
        ~Stmt() { sqlite3_finalize(s); }
    };

    void bind(Stmt &st, int i, const void *p, size_t n)
    {
        /* zeroblob(0): an empty value is an empty BLOB, never NULL */
        int rc = n ? sqlite3_bind_blob64(st.s, i, p, n, SQLITE_STATIC)
                   : sqlite3_bind_zeroblob(st.s, i, 0);
        if (rc != SQLITE_OK)
            throw ::gloo::IoException(std::string("sqlite bind: ") +
                                      sqlite3_errmsg(db_));
    }

    bool lookup(const std::string &key, std::vector<char> *out)
    {
        Stmt st(db_, "SELECT v FROM kv WHERE k = ?1");
        bind(st, 1, key.data(), key.size());
        int rc = sqlite3_step(st.s);
        if (rc == SQLITE_DONE)
            return false;
        if (rc != SQLITE_ROW)
            fail("get", key);
        if (out) {
            const char *p = static_cast<const char *>(sqlite3_column_blob(st.s, 0));
            out->assign(p, p + sqlite3_column_bytes(st.s, 0));
        }
        return true;
    }

    void exec(const char *sql)
    {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
            throw ::gloo::IoException(std::string("sqlite: ") + sql + ": " +
                                      sqlite3_errmsg(db_));
    }

    [[noreturn]] void fail(const char *op, const std::string &key)
    {
        throw ::gloo::IoException(std::string(op) + " '" + key +
                                  "': sqlite: " + sqlite3_errmsg(db_));
    }

    sqlite3 *db_ = nullptr;
};

std::unique_ptr<::gloo::rendezvous::Store>
make_store(const rdv::gloo::PluginOptions &o)
{
    return std::make_unique<SqliteStore>(o.require("db"));
}

} // namespace

RDV_GLOO_STORE_PLUGIN("sqlite-gloo", make_store);
