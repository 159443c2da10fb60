/*
 * runtime/fault_history.h - the fault store's memory of values per key, for
 * store.stale: the last two values of each key, and when a stale key
 * was first read. Not thread-safe: the fault store locks around it.
 */
#ifndef RDV_FAULT_HISTORY_H
#define RDV_FAULT_HISTORY_H

#include <stddef.h>
#include <stdint.h>

typedef struct rdv_fault_history rdv_fault_history;

rdv_fault_history *rdv_fault_history_create(void);
void rdv_fault_history_destroy(rdv_fault_history *h);
/* Records that key now holds val (copied). Out of memory: forgotten. */
void rdv_fault_history_note(rdv_fault_history *h, const char *key,
                            const void *val, size_t len);
/* 1 and a malloc'd copy of the value before the current one, or 0 when
 * the key never changed under this handle. */
int rdv_fault_history_previous(rdv_fault_history *h, const char *key,
                               void **val, size_t *len);

/* When key was first read under a stale fault: now on the first call,
 * the recorded time after. Out of memory: now. */
int64_t rdv_fault_history_first_read(rdv_fault_history *h, const char *key,
                                     int64_t now);

#endif
