/*
 * tests/fuzz/fuzz_workload.c - the workload syntax (harness/workload/),
 * what `rdv run --workload` reads from the command line.
 *
 * Properties: a workload that parses has 1 to RDV_WORKLOAD_MAX steps,
 * each named in canonical text; those names, joined by commas, parse to
 * the same steps (canonical form is a fixed point); validation against
 * a run size either passes or says why; a refusal says why.
 */
#include "fuzz.h"
#include "workload/workload.h"

static void check_same(const rdv_workload *a, const rdv_workload *b,
                       const char *text)
{
    FUZZ_CHECK(a->nsteps == b->nsteps, "'%s': %d steps, canonical %d",
               text, a->nsteps, b->nsteps);
    for (int i = 0; i < a->nsteps; i++) {
        const rdv_step *x = &a->steps[i], *y = &b->steps[i];

        FUZZ_CHECK(x->kind == y->kind && x->type == y->type &&
                       x->op == y->op && x->algo == y->algo &&
                       x->count == y->count && x->root == y->root &&
                       strcmp(x->name, y->name) == 0,
                   "'%s': step %d '%s' reads back as '%s'", text, i + 1,
                   x->name, y->name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), err[512], canon[RDV_WORKLOAD_MAX * 65];
    rdv_workload w, back;
    size_t off = 0;

    if (rdv_workload_parse(text, &w, err, sizeof err) != 0) {
        FUZZ_CHECK(fuzz_msg_ok(err, sizeof err), "'%s' refused silently",
                   text);
        free(text);
        return 0;
    }
    FUZZ_CHECK(w.nsteps >= 0 && w.nsteps <= RDV_WORKLOAD_MAX,
               "'%s' has %d steps", text, w.nsteps);
    canon[0] = '\0';
    for (int i = 0; i < w.nsteps; i++) {
        FUZZ_CHECK(w.steps[i].name[0] && memchr(w.steps[i].name, '\0',
                                                sizeof w.steps[i].name),
                   "'%s': step %d has no name", text, i + 1);
        off += (size_t)snprintf(canon + off, sizeof canon - off, "%s%s",
                                i ? "," : "", w.steps[i].name);
    }
    if (w.nsteps > 0) {
        FUZZ_CHECK(rdv_workload_parse(canon, &back, err, sizeof err) == 0,
                   "'%s' canonical '%s' fails: %s", text, canon, err);
        check_same(&w, &back, text);
    }
    for (int n = 1; n <= 64; n *= 4) {
        err[0] = '\0';
        if (rdv_workload_validate(&w, n, err, sizeof err) != 0)
            FUZZ_CHECK(fuzz_msg_ok(err, sizeof err),
                       "'%s' invalid at N=%d, silently", text, n);
    }
    free(text);
    return 0;
}
