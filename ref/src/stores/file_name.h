/*
 * stores/file_name.h - the file store's key <-> file name codec. Pure:
 * no I/O, so it is tested on its own.
 *
 * A key becomes "k" + its bytes with [A-Za-z0-9._-] kept and every other
 * byte written as %XX. The leading "k" means no name is ever "." or "..",
 * and '/' is always escaped, so no key can leave the directory. A key
 * whose encoding would pass RDV_FILE_NAME_MAX becomes "h" + a 128-bit hex
 * digest instead; such files carry their key in the header, which the
 * store checks on every read. Other names (temp files ".t.*", the lock
 * ".lock") start with '.', so they never look like keys.
 */
#ifndef RDV_FILE_NAME_H
#define RDV_FILE_NAME_H

#include <stddef.h>
#include <stdint.h>

#define RDV_FILE_NAME_MAX 240

/* Writes the file name for key into name (RDV_FILE_NAME_MAX + 1 bytes).
 * Returns 1 for a hashed name, 0 for a reversible one. */
int rdv_file_name_encode(const char *key, char *name);

/* The hash of a file name, for the tables that find one fast (the read
 * cache, a wait's keys): FNV-1a (fnv.h). */
uint64_t rdv_file_name_hash(const char *name);

/* Decodes a reversible name ("k...") into key (RDV_SCOPED_KEY_MAX + 1 bytes).
 * Returns 0, or -1 when name is not a well-formed key name. */
int rdv_file_name_decode(const char *name, char *key);

#endif
