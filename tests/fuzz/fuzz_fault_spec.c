/*
 * tests/fuzz/fuzz_fault_spec.c - the fault spec language
 * (fault-injection/spec/), what `rdv run --faults` and `rdv faults
 * --check` read.
 *
 * Properties: a spec that parses has a canonical text that parses to a
 * plan of the same faults and the same canonical text (a fixed point,
 * which replay lines rely on); validation against run sizes passes or
 * says why; a refusal is RDV_EINVAL pointing at a line and column.
 */
#include "fuzz.h"
#include "rdv/fault.h"
#include "rdv/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), err[512] = "";
    rdv_fault_plan *p = NULL, *q = NULL;
    const char *canon;
    int rc = rdv_fault_plan_parse(text, &p, err, sizeof err);

    if (rc != RDV_OK) {
        FUZZ_CHECK(rc == RDV_EINVAL && fuzz_msg_ok(err, sizeof err) &&
                       strncmp(err, "line ", 5) == 0,
                   "'%s' refused with %d, '%s'", text, rc, err);
        free(text);
        return 0;
    }
    canon = rdv_fault_plan_text(p);
    FUZZ_CHECK(canon != NULL, "'%s' has no canonical text", text);
    rc = rdv_fault_plan_parse(canon, &q, err, sizeof err);
    FUZZ_CHECK(rc == RDV_OK, "'%s' canonical '%s' fails: %s", text, canon,
               err);
    FUZZ_CHECK(rdv_fault_plan_count(p) == rdv_fault_plan_count(q) &&
                   strcmp(canon, rdv_fault_plan_text(q)) == 0,
               "'%s': canonical '%s' reads back as '%s'", text, canon,
               rdv_fault_plan_text(q));
    for (int n = 1; n <= 64; n *= 4) {
        err[0] = '\0';
        rc = rdv_fault_plan_validate(p, n, err, sizeof err);
        FUZZ_CHECK(rc == RDV_OK ||
                       (rc == RDV_EINVAL && fuzz_msg_ok(err, sizeof err)),
                   "'%s' at N=%d: %d, '%s'", text, n, rc, err);
        if (rc == RDV_OK) {
            rdv_fault_expect e;

            rdv_fault_plan_expect(p, 1, n, &e);
            FUZZ_CHECK(e.culprit >= -1 && e.culprit < n,
                       "'%s' at N=%d blames rank %d", text, n, e.culprit);
        }
    }
    rdv_fault_plan_free(q);
    rdv_fault_plan_free(p);
    free(text);
    return 0;
}
