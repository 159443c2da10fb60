/*
 * launcher_fd.c - rdv_launcher_fd (launcher_fd.h).
 */
#include <stdio.h>

#include "launcher_fd.h"

int rdv_launcher_fd(const char *value, int *fd, struct stat *st)
{
    unsigned long long dev, ino;
    char tail;

    if (!value)
        return 0;
    if (sscanf(value, "%d:%llu:%llu%c", fd, &dev, &ino, &tail) != 3 ||
        *fd < 0)
        return -1;
    if (fstat(*fd, st) || (unsigned long long)st->st_dev != dev ||
        (unsigned long long)st->st_ino != ino)
        return 0;
    return 1;
}
