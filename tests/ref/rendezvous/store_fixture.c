/*
 * store_fixture.c - see store_fixture.h.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_fixture.h"

void fixture_open(store_fixture *f, const char *kind)
{
    char err[512];

    memset(f, 0, sizeof *f);
    if (!strcmp(kind, "file")) {
        snprintf(f->dir, sizeof f->dir, "/tmp/rdv-mesh-test-XXXXXX");
        cr_assert_not_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof f->url, "file://%s", f->dir);
    } else {
        snprintf(f->url, sizeof f->url, "hash:?shared=1&size=64");
    }
    cr_assert_eq(rdv_store_open(f->url, &f->store, err, sizeof err), RDV_OK,
                 "%s: %s", f->url, err);
}

void fixture_close(store_fixture *f)
{
    rdv_store_close(f->store);
    f->store = NULL;
    if (f->dir[0]) {
        DIR *d = opendir(f->dir);
        struct dirent *e;
        char path[512];

        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
            unlink(path);
        }
        if (d)
            closedir(d);
        rmdir(f->dir);
    }
}
