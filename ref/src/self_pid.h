/*
 * self_pid.h - this process's pid without a syscall, for the checks that
 * tell a handle used after fork() from one used where it was made (the
 * transport, the tcp:// and redis pools, the store server, exec stores).
 * Those checks run on every call of the data path, and getpid() costs
 * about 250 ns on a VM with syscall mitigations: 4 of them were 1 µs of
 * a 27 µs small allreduce.
 *
 * The pid is read once and again in the child of every fork() (a
 * pthread_atfork handler). A child made without the fork handlers
 * (glibc's _Fork, a raw clone) keeps its parent's value: librdv is not
 * to be used there.
 */
#ifndef RDV_SELF_PID_H
#define RDV_SELF_PID_H

#include <sys/types.h>

pid_t rdv_self_pid(void);

#endif
