/*
 * runtime/env_install.c - faults from the environment: a program linked
 * with librdv, started by `rdv launch --faults SPEC` (or by hand with
 * RDV_FAULTS set), gets the same faults a rank of `rdv run` gets, with
 * no code of its own.
 *
 *   RDV_FAULTS      the spec (spec/spec.c); unset or empty: no faults
 *   RDV_SEED        the seed of every decision (default 1)
 *   RDV_FAULTS_LOG  where the decision log goes (default: stderr)
 *   RDV_FAULTS_FIRED_FD  FD:DEV:INODE, an inherited fd of shared memory
 *                   holding one 64-bit mask per rank, then one "attached"
 *                   word per rank: the faults that took effect in this
 *                   rank are ORed into its mask
 *                   (rdv_fault_rank_publish_fired) and its word set, so
 *                   the launcher judges the plan by what fired, not as
 *                   written. DEV:INODE tell the launcher's fd from
 *                   whatever a process the rank started has at that
 *                   number: such a process inherits the variable, not
 *                   always the fd, and is not the rank; it ignores it.
 *   RDV_RANK/RDV_SIZE (or RANK/WORLD_SIZE): this process's rank and the
 *                   job's size, read by rdv_context_options_from_env()
 *
 * rdv_store_open() hands every store it opens for the caller (not the
 * stores an env:// or gloo+ store opens inside) to
 * rdv_fault_env_wrap(), and rdv_context_create() asks
 * rdv_fault_env_hooks() for the hooks of each context (ref/src/fault_env.h).
 *
 * Choices:
 *  - One fault instance per process, made on first use under
 *    pthread_once and kept until exit: the decisions are a pure
 *    function of (seed, rank, op index, fault), so the op indices must
 *    count over every store the process opens, as in a rank of rdv run.
 *    A store open after exit has begun is not expected.
 *  - A spec or environment that does not parse fails every store open
 *    with the reason (RDV_EINVAL, "environment: RDV_FAULTS: ..."):
 *    a program asked to run under faults never silently runs without.
 *  - The hooks chain to the hooks of the context created last (the
 *    fault instance holds one chain); a program with one context, the
 *    usual case, loses nothing.
 *  - Only the rank's share applies here: store.*, net.* and proc.kill
 *    / proc.stop (raised by the process itself). Whatever the parent
 *    must do (SIGCONT after proc.stop, a late start, server.*) is the
 *    launcher's: `rdv launch` does it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault_env.h"
#include "fault_internal.h"
#include "launcher_fd.h"
#include "rdv/context.h"

static struct {
    pthread_once_t once;
    int status;         /* RDV_OK, or why the faults could not be set up */
    char err[RDV_DETAIL_MAX + 256]; /* "environment: WHAT: " + why */
    rdv_fault_plan *plan;
    rdv_fault_rank *fr; /* NULL: no faults */
    FILE *log;
    uint64_t *fired;    /* RDV_FAULTS_FIRED_FD's masks, then the
                           attached words; or NULL */
} env = {.once = PTHREAD_ONCE_INIT};

static int env_fail(const char *what, const char *why)
{
    snprintf(env.err, sizeof env.err, "environment: %s: %s", what, why);
    return RDV_EINVAL;
}

/* RDV_SEED: a plain decimal, default 1 (rdv run's default). */
static int env_seed(uint64_t *seed)
{
    const char *v = getenv("RDV_SEED");
    char *end;

    *seed = 1;
    if (!v)
        return RDV_OK;
    if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 19) {
        char why[96];

        snprintf(why, sizeof why, "'%.40s' is not a decimal number", v);
        return env_fail("RDV_SEED", why);
    }
    *seed = strtoull(v, &end, 10);
    return RDV_OK;
}

static FILE *env_log(void)
{
    const char *path = getenv("RDV_FAULTS_LOG");
    FILE *f;

    if (!path || !*path)
        return stderr;
    if (!(f = fopen(path, "ae")))
        return NULL;
    setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

/* RDV_FAULTS_FIRED_FD: maps the launcher's masks and publishes this
 * rank's into its slot. The fd is closed once mapped: the program has no
 * use for it. */
static int env_fired(int rank, int size)
{
    const char *v = getenv("RDV_FAULTS_FIRED_FD");
    size_t need = 2 * (size_t)size * sizeof(uint64_t);
    struct stat st;
    char why[200];
    void *m;
    int fd, own = rdv_launcher_fd(v, &fd, &st);

    if (own < 0) {
        snprintf(why, sizeof why, "'%.40s' is not FD:DEV:INODE", v);
        return env_fail("RDV_FAULTS_FIRED_FD", why);
    }
    if (!own)
        return RDV_OK; /* unset, or not the launcher's fd: not its rank */
    if ((size_t)st.st_size < need) {
        snprintf(why, sizeof why, "fd %d holds %lld bytes, not the %zu of "
                 "%d ranks' masks", fd, (long long)st.st_size, need, size);
        return env_fail("RDV_FAULTS_FIRED_FD", why);
    }
    m = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(why, sizeof why, "cannot map fd %d", fd);
        return env_fail("RDV_FAULTS_FIRED_FD", why);
    }
    env.fired = m;
    rdv_fault_rank_publish_fired(env.fr, &env.fired[rank]);
    __atomic_store_n(&env.fired[size + rank], 1, __ATOMIC_RELEASE);
    return RDV_OK;
}

static int env_setup(void)
{
    const char *spec = getenv("RDV_FAULTS");
    rdv_context_options o = rdv_context_options_default();
    char why[RDV_DETAIL_MAX];
    uint64_t seed;
    int rc;

    if (!spec || !*spec)
        return RDV_OK;
    if ((rc = env_seed(&seed)))
        return rc;
    if (rdv_context_options_from_env(&o, why, sizeof why))
        return env_fail("RDV_FAULTS is set, but the rank is unknown", why);
    if (rdv_fault_plan_parse(spec, &env.plan, why, sizeof why) ||
        rdv_fault_plan_validate(env.plan, o.size, why, sizeof why))
        return env_fail("RDV_FAULTS", why);
    if (!(env.log = env_log())) {
        snprintf(why, sizeof why, "cannot open '%.200s' for appending",
                 getenv("RDV_FAULTS_LOG"));
        return env_fail("RDV_FAULTS_LOG", why);
    }
    rc = rdv_fault_rank_create(env.plan, seed, o.rank, o.size, env.log,
                               &env.fr);
    if (rc)
        return env_fail("RDV_FAULTS", rdv_strerror(rc));
    return env_fired(o.rank, o.size);
}

static void env_init(void)
{
    env.status = env_setup();
}

int rdv_fault_env_wrap(rdv_store **s, char *errbuf, size_t errlen)
{
    rdv_store *wrapped;
    int rc;

    pthread_once(&env.once, env_init);
    if (env.status) {
        snprintf(errbuf, errlen, "%s", env.err);
        return env.status;
    }
    if (!env.fr)
        return RDV_OK;
    if ((rc = rdv_fault_rank_wrap_store(env.fr, *s, &wrapped))) {
        snprintf(errbuf, errlen, "environment: RDV_FAULTS: cannot wrap the "
                 "store in the fault store: %s", rdv_strerror(rc));
        return rc;
    }
    *s = wrapped;
    return RDV_OK;
}

const rdv_hooks *rdv_fault_env_hooks(const rdv_hooks *chain)
{
    pthread_once(&env.once, env_init);
    return env.fr ? rdv_fault_rank_hooks(env.fr, chain) : chain;
}
