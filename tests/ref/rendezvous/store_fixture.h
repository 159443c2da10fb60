/*
 * store_fixture.h - a fresh store per test: hash:?shared=1 opened in the
 * parent before fork (children use the inherited handle), or a file
 * store in a new temporary directory (children open the URL).
 */
#ifndef RDV_TEST_STORE_FIXTURE_H
#define RDV_TEST_STORE_FIXTURE_H

#include "rdv/store.h"

typedef struct store_fixture {
    rdv_store *store;
    char url[300];
    char dir[200]; /* file stores: removed by fixture_close */
} store_fixture;

/* kind: "hash" or "file". */
void fixture_open(store_fixture *f, const char *kind);
void fixture_close(store_fixture *f);

#endif
