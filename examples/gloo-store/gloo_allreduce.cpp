/*
 * gloo_allreduce.cpp - a Gloo program that rendezvous through an rdv
 * store: the one line that changes is the Store it hands to
 * connectFullMesh (rdv::GlooStore, rdv/gloo_store.hpp).
 *
 *     gloo_allreduce --store URL --ranks N [--timeout MS] [--count C]
 *     gloo_allreduce --from-env [--timeout MS] [--count C]
 *
 * The first form forks N ranks; each builds a gloo::rendezvous::Context on the store, a
 * TCP device on 127.0.0.1, connectFullMesh, then an int64 sum allreduce
 * of C elements (rank r contributes r * 1000 + i at index i) and a
 * barrier, and checks every element against its closed form. The
 * parent waits for all of them within the timeout (plus 5 s), kills what
 * is left, removes the keys the run left in the store (Gloo leaves its
 * rendezvous keys; rdv can delete them), and exits 0 only when every
 * rank did.
 *
 * --from-env is one rank of a job someone else started, as `rdv launch
 * -n N --store URL -- gloo_allreduce --from-env` does: the store is
 * env:// (RDV_STORE, or MASTER_ADDR/MASTER_PORT), the rank and size come
 * from rdv_context_options_from_env() (RDV_RANK/RANK, RDV_SIZE/
 * WORLD_SIZE) and the keys live under RDV_JOB. Rank 0 removes the job's
 * keys after the final barrier, when no rank reads the store any more.
 * Faults in RDV_FAULTS reach the store calls (librdv wraps what
 * rdv_store_open returns); Gloo's own sockets are not librdv's, so no
 * net.* fault ever takes effect here.
 *
 * Choices:
 * - Every rank opens the URL itself, as separate processes do, except a
 *   store whose handle is made to be inherited (hash:?shared=1): the
 *   parent opens that one before fork().
 * - The keys live under a prefix unique to the run (gloo-allreduce-PID),
 *   so a store or directory used before cannot cross-connect two runs.
 * - Errors are Gloo's exceptions, caught into the rank's line on stderr.
 */
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/transport/tcp/device.h>

#include "rdv/context.h"
#include "rdv/gloo_store.hpp"
#include "rdv/url.h"

namespace {

struct Args {
    std::string url;
    bool from_env = false;
    int ranks = 2;
    int timeout_ms = 30000;
    size_t count = 1024;
};

int usage(const char *why)
{
    std::fprintf(stderr, "gloo_allreduce: %s\nusage: gloo_allreduce --store "
                 "URL --ranks N [--timeout MS] [--count C]\n"
                 "       gloo_allreduce --from-env [--timeout MS] "
                 "[--count C]\n", why);
    return 2;
}

bool number(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = std::strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Rank r's part of the run; returns the exit code. cleanup: rank 0
 * removes the keys under prefix once every rank passed the barrier. */
int rank_main(const Args &a, int rank, rdv_store *inherited,
              const std::string &prefix, bool cleanup)
{
    try {
        std::unique_ptr<rdv::GlooStore> store;
        rdv_store *s = inherited;
        char err[1024];
        if (!s && rdv_store_open(a.url.c_str(), &s, err, sizeof err))
            throw std::runtime_error(err);
        rdv_store *scoped = nullptr;
        if (rdv_store_prefix_open(s, prefix.c_str(), &scoped)) {
            rdv_store_close(s);
            throw std::runtime_error("cannot scope the store to " + prefix);
        }
        /* Owned, the inherited one too: closing this process's copy of a
         * shared handle leaves the other processes' alone. */
        store = std::make_unique<rdv::GlooStore>(scoped, true);
        store->setTimeout(std::chrono::milliseconds(a.timeout_ms));

        ::gloo::transport::tcp::attr attr("127.0.0.1");
        auto dev = ::gloo::transport::tcp::CreateDevice(attr);
        auto ctx = std::make_shared<::gloo::rendezvous::Context>(rank, a.ranks);
        ctx->setTimeout(std::chrono::milliseconds(a.timeout_ms));
        ctx->connectFullMesh(*store, dev);

        std::vector<int64_t> data(a.count);
        for (size_t i = 0; i < a.count; i++)
            data[i] = (int64_t)rank * 1000 + (int64_t)i;
        ::gloo::AllreduceOptions opts(ctx);
        opts.setOutput(data.data(), data.size());
        opts.setReduceFunction(
            static_cast<void (*)(void *, const void *, const void *, size_t)>(
                &::gloo::sum<int64_t>));
        ::gloo::allreduce(opts);
        int64_t n = a.ranks;
        for (size_t i = 0; i < a.count; i++) {
            int64_t want = 1000 * n * (n - 1) / 2 + n * (int64_t)i;
            if (data[i] != want) {
                std::fprintf(stderr, "rank %d: allreduce element %zu is %lld, "
                             "want %lld\n", rank, i, (long long)data[i],
                             (long long)want);
                return 1;
            }
        }
        ::gloo::BarrierOptions bopts(ctx);
        ::gloo::barrier(bopts);
        size_t gone = 0;
        if (cleanup && rank == 0 &&
            rdv_store_delete_prefix(scoped, "", &gone) != RDV_OK) {
            std::fprintf(stderr, "rank 0: cleaning up %s/: %s\n",
                         prefix.c_str(), rdv_store_errmsg(scoped));
            return 1;
        }
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
        return 1;
    }
}

/* Waits for every child until the deadline; kills the rest. */
int reap(std::vector<pid_t> &pids, int timeout_ms)
{
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(timeout_ms + 5000);
    int failed = 0;
    size_t left = pids.size();
    while (left) {
        for (size_t r = 0; r < pids.size(); r++) {
            int st;
            if (pids[r] <= 0 || waitpid(pids[r], &st, WNOHANG) != pids[r])
                continue;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                std::fprintf(stderr, "rank %zu: %s %d\n", r,
                             WIFEXITED(st) ? "exited with" : "killed by signal",
                             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                failed++;
            }
            pids[r] = 0;
            left--;
        }
        if (!left)
            break;
        if (std::chrono::steady_clock::now() > deadline) {
            for (size_t r = 0; r < pids.size(); r++) {
                if (pids[r] <= 0)
                    continue;
                std::fprintf(stderr, "rank %zu: still running %d ms past its "
                             "timeout: killed\n", r, 5000);
                kill(pids[r], SIGKILL);
                waitpid(pids[r], nullptr, 0);
                failed++;
            }
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return failed;
}

} // namespace

/* --from-env: this process is one rank of a launched job. */
int env_rank(Args &a)
{
    rdv_context_options o = rdv_context_options_default();
    char err[1024];
    const char *job = std::getenv("RDV_JOB");

    if (rdv_context_options_from_env(&o, err, sizeof err)) {
        std::fprintf(stderr, "gloo_allreduce: %s\n", err);
        return 2;
    }
    a.url = "env://";
    a.ranks = (int)o.size;
    return rank_main(a, (int)o.rank, nullptr,
                     job && *job ? job : "gloo-allreduce", true);
}

int main(int argc, char **argv)
{
    Args a;
    for (int i = 1; i < argc; i++) {
        long v;
        if (std::strcmp(argv[i], "--from-env") == 0) {
            a.from_env = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage("every option takes a value");
        std::string opt = argv[i], val = argv[++i];
        if (opt == "--store")
            a.url = val;
        else if (opt == "--ranks" && number(val.c_str(), 1, 1024, &v))
            a.ranks = (int)v;
        else if (opt == "--timeout" && number(val.c_str(), 1, 3600000, &v))
            a.timeout_ms = (int)v;
        else if (opt == "--count" && number(val.c_str(), 1, 1 << 26, &v))
            a.count = (size_t)v;
        else
            return usage(("bad option or value: " + opt + " " + val).c_str());
    }
    if (a.from_env && !a.url.empty())
        return usage("--from-env and --store exclude each other");
    if (a.from_env)
        return env_rank(a);
    if (a.url.empty())
        return usage("--store is required");

    char err[1024];
    rdv_store *parent;
    if (rdv_store_open(a.url.c_str(), &parent, err, sizeof err)) {
        std::fprintf(stderr, "gloo_allreduce: %s\n", err);
        return 1;
    }
    if (rdv_store_flags(parent) & RDV_STORE_PROCESS_LOCAL) {
        std::fprintf(stderr, "gloo_allreduce: %s is visible to one process "
                     "only and the ranks are processes: use hash:?shared=1\n",
                     rdv_store_name(parent));
        rdv_store_close(parent);
        return 1;
    }
    std::string prefix = "gloo-allreduce-" + std::to_string(getpid());
    rdv_store *inherited = rdv_store_is_inherited(parent) ? parent : nullptr;
    auto start = std::chrono::steady_clock::now();
    std::vector<pid_t> pids(a.ranks, 0);
    for (int r = 0; r < a.ranks; r++) {
        pid_t pid = fork();
        if (pid == 0)
            std::exit(rank_main(a, r, inherited, prefix, false));
        if (pid < 0) {
            std::perror("gloo_allreduce: fork");
            break;
        }
        pids[r] = pid;
    }
    int failed = reap(pids, a.timeout_ms);
    for (pid_t p : pids)
        failed += p < 0;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start).count();

    /* Gloo leaves its keys; the run's scope goes with them. */
    size_t deleted = 0;
    if (rdv_store_delete_prefix(parent, (prefix + "/").c_str(), &deleted))
        std::fprintf(stderr, "gloo_allreduce: cleaning up %s/: %s\n",
                     prefix.c_str(), rdv_store_errmsg(parent));
    rdv_store_close(parent);
    char shown[1024];
    std::printf("gloo_allreduce: %d ranks through %s: %s (%lld ms, %zu keys "
                "removed)\n", a.ranks, rdv_url_redact(a.url.c_str(), shown, sizeof shown),
                failed ? "FAILED" : "ok", (long long)ms, deleted);
    return failed ? 1 : 0;
}
