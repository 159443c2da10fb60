/*
 * test_mesh.c - full meshes of forked ranks over the shared hash store
 * and the file store: every pair connected once with matching 4-tuples,
 * one message each way on every pair, no fd leaked, no key left. The
 * backend is $RDV_TRANSPORT unless a test forces one.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>

#include "ranks.h"
#include "store_fixture.h"

static void mesh(const char *kind, int n, const char *transport,
                 const char *bind)
{
    store_fixture f;
    rank_plan p;
    rank_result *r;
    char job[64];

    if (n > 8 && getenv("RDV_TEST_QUICK"))
        cr_skip_test("RDV_TEST_QUICK: N = %d skipped (quick passes; release runs it)", n);
    snprintf(job, sizeof job, "mesh-%s-%d", kind, n);
    fixture_open(&f, kind);
    plan_init(&p, f.store, f.url, n, job, 60000, -1);
    p.transport = transport;
    p.bind = bind;
    r = plan_run(&p);
    expect_mesh_ok(&p, r);
    for (int i = 0; i < p.nproc; i++) {
        cr_expect_eq(r[i].counters.strangers_rejected, 0);
        /* one set, ceil((N-1)/64) multi_gets and one delete when every
         * rank is quick; a rank forked late can cost a sweep of single
         * gets per doubling slice, but never a tight poll */
        cr_expect_leq(r[i].counters.store_ops,
                      (uint64_t)(3 + (n + 63) / 64 + 2 * n),
                      "rank %d made %llu store calls", r[i].rank,
                      (unsigned long long)r[i].counters.store_ops);
    }
    cr_expect_eq(store_keys(f.store), 0, "keys left in %s", f.url);
    results_free(r);
    fixture_close(&f);
}

Test(mesh, hash_2) { mesh("hash", 2, NULL, NULL); }
Test(mesh, hash_3) { mesh("hash", 3, NULL, NULL); }
Test(mesh, hash_8) { mesh("hash", 8, NULL, NULL); }
Test(mesh, hash_32) { mesh("hash", 32, NULL, NULL); }
Test(mesh, hash_64) { mesh("hash", 64, NULL, NULL); }
Test(mesh, file_2) { mesh("file", 2, NULL, NULL); }
Test(mesh, file_3) { mesh("file", 3, NULL, NULL); }
Test(mesh, file_8) { mesh("file", 8, NULL, NULL); }
Test(mesh, file_32) { mesh("file", 32, NULL, NULL); }
Test(mesh, file_64) { mesh("file", 64, NULL, NULL); }

/* Each backend forced once, whatever $RDV_TRANSPORT says. */
Test(mesh, forced_uring_8) { mesh("hash", 8, "uring", NULL); }
Test(mesh, forced_epoll_8) { mesh("hash", 8, "epoll", NULL); }
Test(mesh, forced_epoll_file_8) { mesh("file", 8, "epoll", NULL); }

/* bind by interface name */
Test(mesh, bind_interface_lo) { mesh("hash", 3, NULL, "lo"); }

Test(mesh, size_one_needs_nobody)
{
    rdv_context_options o = rdv_context_options_default();
    store_fixture f;
    rdv_context *ctx;
    char err[256];

    fixture_open(&f, "hash");
    o.size = 1;
    cr_assert_eq(rdv_context_create(&o, &ctx, err, sizeof err), RDV_OK);
    cr_expect_eq(rdv_context_connect_full_mesh(ctx, f.store), RDV_OK);
    cr_expect_eq(rdv_context_connect_full_mesh(ctx, f.store), RDV_ESTATE);
    rdv_context_destroy(ctx);
    cr_expect_eq(store_keys(f.store), 0);
    fixture_close(&f);
}
