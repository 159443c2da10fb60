/*
 * tests/install/consumer.c - a program outside the tree (built by
 * install_consumer.sh against an installed rdv) that uses the installed
 * headers and library: opens an in-process store, sets and reads back a key, and
 * (with WITH_MPI) takes the address of the MPI rendezvous so the link
 * proves rdv::rdv_mpi is there. Exit 0 when the value came back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdv/store.h>
#ifdef WITH_MPI
#include <rdv/mpi.h>
#endif

int main(void)
{
    char err[256];
    rdv_store *s;
    void *val = NULL;
    size_t len = 0;
    int ok;

#ifdef WITH_MPI
    printf("mpi rendezvous at %p\n",
           (void *)&rdv_context_connect_full_mesh_mpi);
#endif
    if (rdv_store_open("hash:", &s, err, sizeof err)) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    ok = rdv_store_set(s, "k", "v", 1, 0) == RDV_OK &&
         rdv_store_get(s, "k", &val, &len, 0) == RDV_OK && len == 1 &&
         memcmp(val, "v", 1) == 0;
    free(val);
    rdv_store_close(s);
    puts(ok ? "ok" : "value did not come back");
    return ok ? 0 : 1;
}
