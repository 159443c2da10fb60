/*
 * harness/run/leak.h - what a run may leave behind, measured from the parent:
 * processes, its own fds, keys under the run's prefix, temp files.
 */
#ifndef RDV_HARNESS_LEAK_H
#define RDV_HARNESS_LEAK_H

#include <stddef.h>
#include <sys/types.h>

#include "rdv/store.h"

/* Open fds of this process, or -1 when /proc/self/fd is unreadable. */
int rdv_fd_count(void);

/* Processes of the run left alive or unreaped: members of pgid, and
 * unreaped children of ours. Writes what it found into buf ("" = none)
 * and returns how many. */
int rdv_leak_processes(pid_t pgid, char *buf, size_t cap);

/* Keys left in s under prefix ("<run id>/"): returns their number (or a
 * negative rdv_status), lists the first few (without the prefix) in buf,
 * and deletes them all so the next run starts clean. Keys that are
 * excused_rank's own records ("job/addr/2" for rank 2; a rank killed by
 * a fault cannot clean up) are only counted, in *excused. */
long rdv_leak_keys(rdv_store *s, const char *prefix, int excused_rank,
                   long *excused, char *buf, size_t cap);

/* The store's keys outside every run's prefix ("run-..."), sorted: what
 * a store leaks on its own (a session record it never removes) shows up
 * as a key here that was not there before the run. */
typedef struct rdv_key_snapshot {
    char **keys;
    size_t n;
} rdv_key_snapshot;

int rdv_key_snapshot_take(rdv_store *s, rdv_key_snapshot *snap);
/* Keys in s now that are in neither before nor any run's prefix: returns
 * how many (or a negative rdv_status) and names the first few in buf. */
long rdv_key_snapshot_new(rdv_store *s, const rdv_key_snapshot *before,
                          char *buf, size_t cap);
void rdv_key_snapshot_free(rdv_key_snapshot *snap);

/* Files in dir (NULL = $TMPDIR or /tmp) whose names start with
 * "rdv-<run_id>": returns how many and names the first in buf. */
int rdv_leak_temp_files(const char *dir, const char *run_id, char *buf,
                        size_t cap);

/* Files in the directory of a file:// store URL (other URLs: none) whose
 * names hold one of pids as a whole number: scratch files of this run's
 * ranks (".t.<pid>.<n>" when a rank died mid-write). Returns how many
 * and names the first in buf. Other processes' files never count, so
 * concurrent runs in one directory do not disturb the check. */
int rdv_leak_store_files(const char *url, const pid_t *pids, int n,
                         char *buf, size_t cap);

#endif
