/*
 * test_spec.c - the fault spec language: what parses, its canonical
 * form, what the plan expects, and that every malformed spec is refused
 * with the line, the column and what was expected there.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rdv/fault.h"
#include "rdv/store_ops.h"

static char err[1024];

static rdv_fault_plan *parse_ok(const char *spec)
{
    rdv_fault_plan *p = NULL;
    int rc = rdv_fault_plan_parse(spec, &p, err, sizeof err);

    cr_assert_eq(rc, RDV_OK, "'%s' should parse: %s", spec, err);
    cr_assert_not_null(p);
    return p;
}

/* Asserts spec is refused and the message starts with "line L, column C"
 * and contains want. */
static void parse_bad(const char *spec, int line, int col, const char *want)
{
    rdv_fault_plan *p = (rdv_fault_plan *)&p; /* must be reset to NULL */
    char where[64];

    cr_assert_eq(rdv_fault_plan_parse(spec, &p, err, sizeof err), RDV_EINVAL,
                 "'%s' should be refused", spec);
    cr_assert_null(p);
    snprintf(where, sizeof where, "line %d, column %d: ", line, col);
    cr_assert(strncmp(err, where, strlen(where)) == 0,
              "'%s': got \"%s\", want it to start with \"%s\"", spec, err,
              where);
    cr_assert(strstr(err, want), "'%s': got \"%s\", want \"%s\" in it", spec,
              err, want);
}

Test(spec, the_examples_of_the_issue_parse)
{
    rdv_fault_plan *p = parse_ok(
        "store.delay(op=get|wait, ms=5..50, p=0.3)\n"
        "store.error(op=set, nth=3, code=EIO)\n"
        "proc.kill(rank=3, at=after-publish)\n"
        "net.reset(rank=1, peer=2, after=4096)");

    cr_assert_eq(rdv_fault_plan_count(p), 4);
    cr_assert_str_eq(rdv_fault_plan_text(p),
                     "store.delay(op=get|wait, ms=5..50, p=0.3); "
                     "store.error(op=set, nth=3, code=EIO); "
                     "proc.kill(rank=3, at=after-publish); "
                     "net.reset(rank=1, peer=2, after=4096)");
    cr_assert_eq(rdv_fault_plan_validate(p, 4, err, sizeof err), RDV_OK, "%s",
                 err);
    rdv_fault_plan_free(p);
}

Test(spec, canonical_text_parses_back_to_itself)
{
    const char *spec = "  # a comment\n;; store.lose( key = \"job 1/addr/3\" ,"
                       "\n   rank=0|2..3 ) ;\n\nnet.short(max=7, dir=send)  ";
    rdv_fault_plan *p = parse_ok(spec), *q;
    char text[512];

    snprintf(text, sizeof text, "%s", rdv_fault_plan_text(p));
    cr_assert_str_eq(text, "store.lose(key=\"job 1/addr/3\", rank=0|2..3); "
                           "net.short(max=7, dir=send)");
    q = parse_ok(text);
    cr_assert_str_eq(rdv_fault_plan_text(q), text);
    rdv_fault_plan_free(p);
    rdv_fault_plan_free(q);
}

Test(spec, empty_spec_is_an_empty_plan)
{
    rdv_fault_plan *p = parse_ok(" ;\n# nothing\n");
    rdv_fault_expect e;

    cr_assert_eq(rdv_fault_plan_count(p), 0);
    cr_assert_str_eq(rdv_fault_plan_text(p), "");
    rdv_fault_plan_expect(p, 1, 4, &e);
    cr_assert_eq(e.fatal, 0);
    rdv_fault_plan_free(p);
}

Test(spec, unknown_fault)
{
    parse_bad("store.delay(ms=1); store.dleay(ms=5)", 1, 20,
              "unknown fault 'store.dleay': expected one of store.delay");
    parse_bad("(ms=5)", 1, 1, "expected a fault");
}

Test(spec, bad_range)
{
    parse_bad("store.delay(op=get,\n  ms=50..5)", 2, 6,
              "bad range 50..5: expected LO..HI with LO <= HI");
    parse_bad("store.delay(ms=5..x)", 1, 16, "expected a range LO..HI");
    parse_bad("store.delay(ms=-3)", 1, 16,
              "expected a non-negative integer or LO..HI");
}

Test(spec, unknown_phase)
{
    parse_bad("proc.kill(rank=3, at=after-pub)", 1, 22,
              "unknown phase 'after-pub': expected one of before-publish, "
              "after-publish, connecting, connected, in-collective");
}

Test(spec, rank_out_of_range_is_caught_by_validate)
{
    rdv_fault_plan *p = parse_ok("store.delay(ms=1);\nproc.kill(rank=7, "
                                 "at=connected)");

    cr_assert_eq(rdv_fault_plan_validate(p, 4, err, sizeof err), RDV_EINVAL);
    cr_assert_str_eq(err, "line 2, column 16: rank=7 of proc.kill (fault 2) "
                          "is out of range: expected 0..3 in a 4-rank run");
    cr_assert_eq(rdv_fault_plan_validate(p, 8, err, sizeof err), RDV_OK);
    rdv_fault_plan_free(p);
    p = parse_ok("net.reset(peer=1..9, after=0)");
    cr_assert_eq(rdv_fault_plan_validate(p, 4, err, sizeof err), RDV_EINVAL);
    cr_assert(strstr(err, "peer=9"), "%s", err);
    rdv_fault_plan_free(p);
}

Test(spec, trailing_garbage)
{
    parse_bad("net.reset(rank=1, peer=2, after=4096) junk", 1, 39,
              "expected ';', a newline or the end of the spec after a "
              "fault, got 'junk'");
    parse_bad("store.delay(ms=5))", 1, 18, "got ')'");
}

Test(spec, structural_errors_say_what_was_expected)
{
    parse_bad("store.delay ms=5", 1, 13, "expected '(' after store.delay");
    parse_bad("store.delay(ms=5", 1, 17,
              "expected ',' or ')', got the end of the spec");
    parse_bad("store.delay(ms 5)", 1, 16, "expected '=' after ms");
    parse_bad("store.delay(ms=)", 1, 16, "expected a value for ms");
    parse_bad("store.delay(ms=1, colour=red)", 1, 19,
              "unknown parameter 'colour' for store.delay: expected one of "
              "rank, op, key, ms, p");
    parse_bad("store.delay(ms=1, ms=2)", 1, 19, "given twice");
    parse_bad("store.delay()", 1, 13,
              "expected parameter ms=... for store.delay");
    parse_bad("store.delay(ms=1, op=get|sett)", 1, 26, "expected a store op");
    parse_bad("store.delay(ms=1, p=1.5)", 1, 21, "expected a probability");
    parse_bad("store.error(nth=2, p=0.5)", 1, 25, "only one of nth, once");
    parse_bad("store.error(code=EWHAT)", 1, 18, "expected a status name");
    parse_bad("store.lose(key=\"open)", 1, 16, "closing '\"'");
    parse_bad("proc.kill(rank=1, at=connected|connecting)", 1, 32,
              "expected a single value for at");
    parse_bad("proc.kill(at=connected)", 1, 23, "expected parameter rank");
}

Test(spec, expectations_follow_the_catalogue)
{
    static const struct {
        const char *spec;
        int fatal, culprit;
        const char *key;
    } cases[] = {
        {"store.delay(op=get|wait, ms=5..50, p=0.3)", 0, -1, ""},
        {"net.refuse(rank=1, times=2); net.short(max=3); net.slow(bps=1000)",
         0, -1, ""},
        {"proc.kill(rank=3, at=after-publish)", 1, 3, ""},
        {"store.delay(ms=1); proc.kill(rank=2, at=connected)", 1, 2, ""},
        {"store.lose(key=\"job/addr/3\")", 1, 3, "job/addr/3"},
        {"store.lose(key=\"*/addr/2\")", 1, 2, "/addr/2"},
        /* no rank 12 at N=4: no one's record, no one to blame */
        {"store.lose(key=\"*/addr/12\")", 1, -1, "/addr/12"},
        {"store.lose(key=\"cfg\")", 1, -1, "cfg"},
        {"store.lose(rank=2, key=\"job/addr/*\")", 1, 2, ""},
        {"store.error(op=set, key=\"*/addr/1\")", 1, -1, "/addr/1"},
        {"store.error(rank=1, op=set)", 1, 1, ""},
        {"proc.stop(rank=1, at=connected, ms=500)", 0, -1, ""},
        {"proc.stop(rank=1, at=connected, ms=40000)", 1, 1, ""},
        {"proc.start-late(rank=0, ms=1000)", 0, -1, ""},
        {"server.pause(ms=1000); server.restart(after=100)", 0, -1, ""},
        {"server.pause(ms=60000)", 1, -1, ""},
        {"store.stale(ms=100)", 0, -1, ""},
        {"store.stale()", 1, -1, ""},
        {"store.stall(rank=1, op=set, ms=500)", 1, 1, ""},
        {"store.stall(op=multi_get, nth=1)", 0, -1, ""},
        {"store.stall(op=multi_get)", 1, -1, ""},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rdv_fault_plan *p = parse_ok(cases[i].spec);
        rdv_fault_expect e;

        rdv_fault_plan_expect(p, 7, 4, &e);
        cr_expect_eq(e.fatal, cases[i].fatal, "%s: fatal", cases[i].spec);
        cr_expect_eq(e.culprit, cases[i].culprit, "%s: culprit",
                     cases[i].spec);
        cr_expect_str_eq(e.key, cases[i].key, "%s: key", cases[i].spec);
        rdv_fault_plan_free(p);
    }
}

Test(spec, timeout_decides_time_dependent_faults)
{
    rdv_fault_plan *p = parse_ok("proc.stop(rank=2, at=connecting, ms=3000)");
    rdv_fault_expect e;

    rdv_fault_plan_expect_timeout(p, 1, 4, 10000, &e);
    cr_assert_eq(e.fatal, 0);
    rdv_fault_plan_expect_timeout(p, 1, 4, 2000, &e);
    cr_assert_eq(e.fatal, 1);
    cr_assert_eq(e.culprit, 2);
    rdv_fault_plan_free(p);
}

Test(spec, parent_side_helpers)
{
    rdv_fault_plan *p = parse_ok(
        "proc.start-late(rank=1, ms=250); proc.stop(rank=2, at=connected, "
        "ms=100..200); server.pause(after=50, ms=300); server.latency(ms=5)");
    rdv_fault_server_event ev[4];
    int ms = rdv_fault_plan_stop_ms(p, 9, 2);

    cr_assert_eq(rdv_fault_plan_start_delay_ms(p, 9, 1), 250);
    cr_assert_eq(rdv_fault_plan_start_delay_ms(p, 9, 0), 0);
    cr_assert(ms >= 100 && ms <= 200, "stop ms %d", ms);
    cr_assert_eq(rdv_fault_plan_stop_ms(p, 9, 2), ms, "a pure function");
    cr_assert_eq(rdv_fault_plan_stop_ms(p, 9, 1), 0);
    cr_assert_eq(rdv_fault_plan_server_events(p, 9, ev, 4), 2);
    cr_assert_eq(ev[0].kind, RDV_FAULT_SERVER_PAUSE);
    cr_assert_eq(ev[0].after_ms, 50);
    cr_assert_eq(ev[0].ms, 300);
    cr_assert_eq(ev[1].kind, RDV_FAULT_SERVER_LATENCY);
    cr_assert_eq(rdv_fault_plan_needs(p),
                 RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_PROXY);
    rdv_fault_plan_free(p);
}

/* What a plan may add to one store call: for a call without a timeout,
 * the largest ms of each fault that holds one, added up, or -1 (no
 * bound) for a stall without ms and for faults that hold each chunk or
 * reconnect; for a timed call only proc.stop's, since everything else
 * ends at the call's deadline. */
Test(spec, call_stretch_adds_up_the_faults_that_hold_a_call)
{
    static const struct {
        const char *spec;
        int64_t plain, timed;
    } cases[] = {
        {"store.error(nth=1)", 0, 0},
        {"store.delay(ms=5..7000, op=set)", 7000, 0},
        {"store.delay(ms=100); store.stall(op=get, ms=200..300)", 400, 0},
        {"proc.stop(rank=1, at=connected, ms=900); store.delay(ms=10)", 910,
         900},
        {"server.pause(ms=300); server.blackhole(after=10, ms=50)", 350, 0},
        {"store.stall(op=set)", -1, 0},
        {"server.latency(ms=5)", -1, 0},
        {"server.restart(after=100)", -1, 0},
        {"net.delay(ms=50); proc.kill(rank=1, at=connected)", 0, 0},
    };

    cr_assert_eq(rdv_fault_plan_call_stretch_ms(NULL, 0), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rdv_fault_plan *p = parse_ok(cases[i].spec);
        int64_t plain = rdv_fault_plan_call_stretch_ms(p, 0);
        int64_t timed = rdv_fault_plan_call_stretch_ms(p, 1);

        cr_expect(plain == cases[i].plain && timed == cases[i].timed,
                  "%s: %lld and %lld, want %lld and %lld", cases[i].spec,
                  (long long)plain, (long long)timed,
                  (long long)cases[i].plain, (long long)cases[i].timed);
        rdv_fault_plan_free(p);
    }
}

/* What a plan needs is what its faults' catalogue entries need. */
Test(spec, needs_come_from_the_faults_in_it)
{
    static const struct {
        const char *spec;
        unsigned needs;
    } cases[] = {
        {"store.delay(ms=5); proc.kill(rank=1, at=connected)", 0},
        {"server.pause(ms=100)", RDV_FAULT_NEEDS_REDIS},
        {"server.restart(after=100)",
         RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_RESTART},
        {"server.reset(after=10); server.restart()",
         RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_PROXY |
             RDV_FAULT_NEEDS_RESTART},
        {"server.blackhole(ms=5)",
         RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_PROXY},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rdv_fault_plan *p = parse_ok(cases[i].spec);

        cr_expect_eq(rdv_fault_plan_needs(p), cases[i].needs, "%s: %#x",
                     cases[i].spec, rdv_fault_plan_needs(p));
        rdv_fault_plan_free(p);
    }
    cr_expect_eq(rdv_fault_plan_needs(NULL), 0u);
}

/* Families come from the catalogue, never from the text: a key that
 * reads "net.x" is no net fault. */
Test(spec, families_come_from_the_faults_in_it)
{
    static const struct {
        const char *spec;
        unsigned families;
    } cases[] = {
        {"store.delay(ms=5, key=\"*/net.x\")", RDV_FAULT_BY_STORE},
        {"net.delay(ms=5); proc.kill(rank=1, at=connected)",
         RDV_FAULT_BY_NET | RDV_FAULT_BY_PROC},
        {"server.pause(ms=100); store.error(p=0.5)",
         RDV_FAULT_BY_SERVER | RDV_FAULT_BY_STORE},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rdv_fault_plan *p = parse_ok(cases[i].spec);

        cr_expect_eq(rdv_fault_plan_families(p), cases[i].families,
                     "%s: %#x", cases[i].spec, rdv_fault_plan_families(p));
        rdv_fault_plan_free(p);
    }
    cr_expect_eq(rdv_fault_plan_families(NULL), 0u);
}

Test(spec, store_ops_are_librdv_names_or_cas)
{
    rdv_fault_plan *p = parse_ok("store.delay(op=compare_set|cas|get, "
                                 "ms=1)");

    cr_assert_str_eq(rdv_fault_plan_text(p),
                     "store.delay(op=compare_set|cas|get, ms=1)");
    rdv_fault_plan_free(p);
    /* The error lists every op by librdv's name, and the alias. */
    parse_bad("store.delay(op=get|swap, ms=1)", 1, 20,
              "expected a store op (set, get, wait, add, compare_set, "
              "delete, list, multi_get, multi_set, num_keys, "
              "delete_prefix; or cas), got 'swap'");
}

Test(spec, the_op_help_names_every_store_op)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *help;

    cr_assert_not_null(f);
    cr_assert_eq(rdv_fault_catalogue_write(f), RDV_OK);
    fclose(f);
    help = strstr(buf, "    op     store ops: ");
    cr_assert_not_null(help, "%s", buf);
    for (int i = 0; i < RDV_STORE_OP_COUNT; i++) {
        char want[32];

        snprintf(want, sizeof want, "%s%s", i ? "|" : ": ",
                 rdv_store_op_name((rdv_store_op)i));
        cr_expect(strstr(help, want), "the op help lacks %s", want + 1);
    }
    cr_expect(strstr(help, "cas is compare_set"), "%.200s", help);
    free(buf);
}

Test(spec, catalogue_lists_every_fault_and_its_fatality)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    static const char *const names[] = {
        "store.delay(", "store.error(", "store.stall(", "store.lose(",
        "store.stale(", "net.refuse(", "net.delay(", "net.reset(",
        "net.short(", "net.slow(", "proc.kill(", "proc.stop(",
        "proc.start-late(", "server.pause(", "server.restart(",
        "server.latency(", "server.reset(", "server.blackhole(",
    };

    cr_assert_not_null(f);
    cr_assert_eq(rdv_fault_catalogue_write(f), RDV_OK);
    fclose(f);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect(strstr(buf, names[i]), "catalogue lacks %s", names[i]);
    cr_expect(strstr(buf, "fatal: yes"));
    cr_expect(strstr(buf, "fatal: no"));
    free(buf);
}

Test(spec, scenarios_cover_every_fault_and_are_valid_for_two_ranks)
{
    const rdv_fault_scenario *sc;
    size_t n = rdv_fault_scenarios(&sc);
    char *cat = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cat, &len);

    cr_assert_not_null(f);
    cr_assert_eq(rdv_fault_catalogue_write(f), RDV_OK);
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        rdv_fault_plan *p = parse_ok(sc[i].spec);

        cr_assert_geq(rdv_fault_plan_count(p), 1, "%s", sc[i].spec);
        cr_assert_eq(rdv_fault_plan_validate(p, 2, err, sizeof err), RDV_OK,
                     "%s: %s", sc[i].spec, err);
        rdv_fault_plan_free(p);
    }
    /* Every kind in the catalogue has a scenario. */
    for (char *line = cat; line && *line;) {
        char *nl = strchr(line, '\n'), *paren = strchr(line, '(');
        int found = 0;

        if (line[0] != ' ' && paren && (!nl || paren < nl)) {
            char kind[64];

            snprintf(kind, sizeof kind, "%.*s", (int)(paren - line + 1),
                     line);
            for (size_t i = 0; i < n && !found; i++)
                found = strstr(sc[i].spec, kind) != NULL;
            cr_expect(found, "no scenario for %.*s", (int)(paren - line),
                      line);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(cat);
}

/* A key glob of "" would match every key; ms past the documented
 * maximum would wrap in the effects and hang to the deadline. */
Test(spec, empty_key_and_huge_ms_are_refused)
{
    parse_bad("store.error(key=\"\")", 1, 17, "a non-empty key glob");
    parse_bad("store.delay(ms=2147483648)", 1, 16, "at most 86400000 ms");
    parse_bad("store.delay(ms=4294967297)", 1, 16, "at most 86400000 ms");
    parse_bad("store.delay(ms=5..86400001)", 1, 16, "at most 86400000 ms");
    rdv_fault_plan *p = parse_ok("store.delay(ms=86400000, key=\"*\")");
    rdv_fault_plan_free(p);
}
