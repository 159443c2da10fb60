/*
 * harness/run/start_late.c - a late start that keeps the plan's order
 * (start_late.h).
 *
 * The rank polls the shared word every millisecond rather than sleeping
 * on a futex: only late ranks under a server fault wait at all, for a
 * few hundred ms at most on a sane host, and a plain load is all the
 * parent's side then needs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "rdv/clock.h"
#include "run/start_late.h"

struct rdv_server_gate {
    int64_t pending_ms; /* atomic: written by the parent, read by ranks */
};

rdv_server_gate *rdv_server_gate_create(char *err, size_t errlen)
{
    rdv_server_gate *g = mmap(NULL, sizeof *g, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (g == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the page late ranks read the "
                 "server events' progress from: %s", strerror(errno));
        return NULL;
    }
    rdv_server_gate_set(g, RDV_SERVER_GATE_NONE);
    return g;
}

void rdv_server_gate_destroy(rdv_server_gate *g)
{
    if (g)
        munmap(g, sizeof *g);
}

void rdv_server_gate_set(rdv_server_gate *g, int64_t pending_ms)
{
    if (g)
        __atomic_store_n(&g->pending_ms, pending_ms, __ATOMIC_RELEASE);
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000),
                          (long)(ns % 1000000000)};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ; /* a start delay is slept in full, whatever interrupts it */
}

int rdv_start_late(const rdv_server_gate *g, int delay_ms, int bound_ms)
{
    int64_t t0;

    if (delay_ms <= 0)
        return 0;
    sleep_ns((int64_t)delay_ms * 1000000);
    t0 = rdv_now_ns();
    while (g && __atomic_load_n(&g->pending_ms, __ATOMIC_ACQUIRE) <=
                    delay_ms) {
        if (rdv_now_ns() - t0 >= (int64_t)bound_ms * 1000000)
            return -1;
        sleep_ns(1000000);
    }
    return (int)((rdv_now_ns() - t0) / 1000000);
}
