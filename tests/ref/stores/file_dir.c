/*
 * tests/ref/stores/file_dir.c - the file store tests' scratch directory
 * (file_dir.h).
 */
#include "file_dir.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void file_dir_make(char dir[64], char url[128], const char *what,
                   const char *query)
{
    snprintf(dir, 64, "/tmp/rdv-%s.XXXXXX", what);
    cr_assert(mkdtemp(dir), "mkdtemp %s", dir);
    if (url)
        snprintf(url, 128, "file://%s%s", dir, query);
}

void file_dir_put(const char *dir, const char *name, const void *data,
                  size_t len, int append)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, append ? "ab" : "wb");
    cr_assert(f && fwrite(data, 1, len, f) == len && fclose(f) == 0,
              "cannot write %s", path);
}

int file_dir_fds(const char *prefix)
{
    char path[320], target[320];
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert(d, "opendir /proc/self/fd");
    while ((e = readdir(d))) {
        ssize_t len;

        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += strncmp(target, prefix, strlen(prefix)) == 0;
    }
    closedir(d);
    return n;
}

void file_dir_remove(const char *dir)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}
