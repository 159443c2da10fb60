/*
 * self_pid.c - this process's pid without a syscall (self_pid.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "self_pid.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic pid_t self;

/* In the child, before fork() returns there: nothing else runs yet. */
static void refresh(void)
{
    atomic_store_explicit(&self, getpid(), memory_order_relaxed);
}

static void init(void)
{
    refresh();
    pthread_atfork(NULL, NULL, refresh);
}

pid_t rdv_self_pid(void)
{
    pthread_once(&once, init);
    return atomic_load_explicit(&self, memory_order_relaxed);
}
