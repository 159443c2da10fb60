/*
 * harness/bench/read_floor.h - the floor under `rdv bench store`'s
 * multi_get on a file:// store: the same number of reads of open files
 * with nothing of librdv in them (read_floor.c).
 */
#ifndef RDV_BENCH_READ_FLOOR_H
#define RDV_BENCH_READ_FLOOR_H

#include <stddef.h>
#include <stdint.h>

/* Makes a scratch directory inside dir (the same filesystem as the
 * store's files), writes nfiles files of file_bytes each, opens them,
 * and times ops rounds of one pread(2) per file, each round's ns into
 * lat[]. The files and the directory are removed before it returns. 0,
 * or -1 with what failed, where, in msg. */
int rdv_read_floor_run(const char *dir, int nfiles, size_t file_bytes,
                       long ops, int64_t *lat, char *msg, size_t cap);

#endif
