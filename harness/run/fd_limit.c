/*
 * harness/run/fd_limit.c - raising the soft RLIMIT_NOFILE for a run
 * (run/fd_limit.h).
 *
 * Only the soft limit moves, up to the hard one: an unprivileged process
 * may do that, and it never needs to undo it (a larger soft limit costs
 * nothing until fds are opened). A limit that stays too low is not an
 * error here: the run goes ahead and its ranks fail with EMFILE, which
 * the checks report; the note says why, before the run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "run/fd_limit.h"
#include "run/leak.h"

unsigned long rdv_fd_limit_for_ranks(int nranks)
{
    int held = rdv_fd_count();

    /* The harness: what it holds plus a pidfd per rank. A rank: what it
     * inherits plus a link per peer and the spare. */
    return (unsigned long)(held > 0 ? held : 0) + (unsigned long)nranks +
           RDV_RANK_FD_SPARE;
}

int rdv_fd_limit_raise(unsigned long want, const char *what, char *note,
                       size_t cap)
{
    struct rlimit rl;

    note[0] = '\0';
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(note, cap, "cannot read RLIMIT_NOFILE (%s); %s need %lu "
                 "fds", strerror(errno), what, want);
        return -1;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit up = rl;

        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
                          ? (rlim_t)want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = up.rlim_cur;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return 0;
    snprintf(note, cap, "%s need %lu fds but RLIMIT_NOFILE allows %llu "
             "(hard limit %llu); ranks may fail with EMFILE (as root: "
             "ulimit -Hn %lu, or LimitNOFILE= for a service)", what, want,
             (unsigned long long)rl.rlim_cur,
             (unsigned long long)rl.rlim_max, want);
    return -1;
}
