/*
 * tests/ref/stores/file_dir.h - a scratch directory for the file store's
 * tests: made under /tmp with its file:// URL, entries put there by hand
 * (as another process, or a writer that died, would have left them), and
 * removed after. Criterion asserts on every failure.
 */
#ifndef RDV_TEST_FILE_DIR_H
#define RDV_TEST_FILE_DIR_H

#include <stddef.h>

/* Makes /tmp/rdv-<what>.XXXXXX into dir; url (when not NULL) gets
 * "file://<dir><query>" (query "" or "?fresh=1", say). */
void file_dir_make(char dir[64], char url[128], const char *what,
                   const char *query);

/* Writes len bytes of data to the entry name in dir: a new file, or
 * appended to the end of one (append). */
void file_dir_put(const char *dir, const char *name, const void *data,
                  size_t len, int append);

/* How many of this process's fds are open on a path (their
 * /proc/self/fd link) that begins with prefix: files of a directory, or
 * "anon_inode:[io_uring]". */
int file_dir_fds(const char *prefix);

/* Removes dir and all in it. */
void file_dir_remove(const char *dir);

#endif
