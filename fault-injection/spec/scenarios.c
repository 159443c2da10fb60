/*
 * spec/scenarios.c - what `rdv matrix --faults all` runs: one or more
 * representative specs per fault kind. Parameters are chosen so that a
 * non-fatal fault really is survivable under the default workload (a
 * 1 Mi-float allreduce) within a 2000 ms per-call timeout on a loaded
 * 2-core machine: short I/O of 1 KiB, a 50 MB/s link, pauses of 300 ms.
 * The faulty rank is 1 and its peer 0, so every spec is valid for N >= 2.
 * A server fault comes with rank 1 starting late, so that it strikes
 * while the other ranks are blocked in the store waiting for rank 1 (a
 * restart then really loses records they are still waiting on). The
 * harness starts rank 1 only once the server events planned before its
 * start have been carried out, so a restart command slower than the
 * delay still strikes there (harness/run/start_late.h).
 */
#include "fault_internal.h"

static const rdv_fault_scenario scenarios[] = {
    {"store-delay", "store.delay(op=get|wait|multi_get|set, ms=5..50, p=0.3)"},
    {"store-error", "store.error(rank=1, op=set, nth=1)"},
    {"store-stall", "store.stall(rank=1, op=set, ms=500)"},
    {"store-lose", "store.lose(key=\"*/addr/1\")"},
    {"store-stale", "store.stale(rank=0, key=\"*/addr/1\", ms=200)"},
    {"net-refuse", "net.refuse(times=2)"},
    {"net-delay", "net.delay(ms=50..200)"},
    {"net-reset", "net.reset(rank=1, peer=0, after=4096)"},
    {"net-short", "net.short(max=1024)"},
    {"net-slow", "net.slow(rank=1, bps=50000000)"},
    {"kill@after-publish", "proc.kill(rank=1, at=after-publish)"},
    {"kill@in-collective", "proc.kill(rank=1, at=in-collective)"},
    {"stop-short", "proc.stop(rank=1, at=connecting, ms=300)"},
    {"stop-long", "proc.stop(rank=1, at=connected, ms=600000)"},
    {"start-late", "proc.start-late(rank=1, ms=300)"},
    /* Server faults hit while ranks wait: rank 1 starts late, so the
     * others are blocked in the store when the server misbehaves. */
    {"server-pause", "proc.start-late(rank=1, ms=300); "
                     "server.pause(after=100, ms=500)"},
    {"server-restart", "proc.start-late(rank=1, ms=600); "
                       "server.restart(after=200)"},
    {"server-latency", "server.latency(ms=2)"},
    {"server-reset", "proc.start-late(rank=1, ms=300); "
                     "server.reset(after=100)"},
    {"server-blackhole", "proc.start-late(rank=1, ms=300); "
                         "server.blackhole(after=100, ms=500)"},
};

size_t rdv_fault_scenarios(const rdv_fault_scenario **out)
{
    if (out)
        *out = scenarios;
    return sizeof scenarios / sizeof scenarios[0];
}
