/*
 * clock.c - CLOCK_MONOTONIC deadlines. Timeouts become absolute
 * deadlines once, at the API edge, so nested calls and retries share one
 * budget instead of restarting it.
 */
#include <time.h>

#include "rdv/clock.h"

int64_t rdv_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t rdv_deadline_from_ms(int timeout_ms)
{
    if (timeout_ms < 0)
        return RDV_DEADLINE_NONE;
    return rdv_now_ns() + (int64_t)timeout_ms * 1000000;
}

int rdv_deadline_left_ms(int64_t deadline)
{
    int64_t left;

    if (deadline == RDV_DEADLINE_NONE)
        return -1;
    left = deadline - rdv_now_ns();
    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}
