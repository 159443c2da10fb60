/*
 * spin.c - rdv_spin (spin.h): the bounded busy-poll.
 *
 * Choices:
 *  - The clock is read after every look: a vDSO call of tens of
 *    nanoseconds next to a check that is usually a syscall, so the
 *    budget is kept to within one look.
 *  - A pause instruction between looks (x86 PAUSE, ARM YIELD) lets a
 *    sibling hyperthread run and keeps the loop from flooding the
 *    memory bus; no sched_yield(), which is a syscall that may sleep.
 */
#include "spin.h"

#include "rdv/clock.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int rdv_spin(rdv_spin_fn check, void *arg, int64_t budget_ns,
             int64_t deadline)
{
    int64_t until;

    if (budget_ns <= 0)
        return 0;
    until = rdv_now_ns();
    /* no overflow with deadline = RDV_DEADLINE_NONE (INT64_MAX) */
    until = budget_ns < deadline - until ? until + budget_ns : deadline;
    for (;;) {
        int r = check(arg);

        if (r != 0)
            return r;
        if (rdv_now_ns() >= until)
            return 0;
        cpu_relax();
    }
}
