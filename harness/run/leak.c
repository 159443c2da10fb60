/*
 * harness/run/leak.c - the measurements behind the no-leak check.
 *
 * Processes: after every rank is reaped the run's process group must be
 * empty (kill(-pgid, 0) gives ESRCH), and waitid(WNOHANG|WNOWAIT) must
 * find no child of ours left to reap. Fds: /proc/self/fd counted before
 * and after a run. Keys: listed through the parent's own handle, scoped
 * to the run's prefix, so another run's keys are never counted; and the
 * keys outside every run's prefix are compared before and after, which
 * catches a store that leaves records of its own. Temp
 * files: anything named after the run id in the temp directory, which
 * is where the harness would put a run's scratch files.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "run/leak.h"
#include "rdv/store_ops.h"
#include "rdv/url.h"

int rdv_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

int rdv_leak_processes(pid_t pgid, char *buf, size_t cap)
{
    siginfo_t si;
    size_t o = 0;
    int n = 0;

    buf[0] = '\0';
    if (pgid > 0 && kill(-pgid, 0) == 0) {
        o += (size_t)snprintf(buf, cap, "process group %d still has "
                              "members", (int)pgid);
        n++;
    }
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        si.si_pid != 0) {
        snprintf(buf + (o < cap ? o : cap), o < cap ? cap - o : 0,
                 "%sunreaped child pid %d", o ? "; " : "", (int)si.si_pid);
        n++;
    }
    return n;
}

/* 1 when key's last '/'-separated part is rank's number ("job/addr/2",
 * or Gloo's address record "2") or Gloo's hostname record "rank_2": a
 * record of that rank's own. */
static int key_of_rank(const char *key, int rank)
{
    const char *last = strrchr(key, '/');
    char num[16];

    last = last ? last + 1 : key;
    if (!strncmp(last, "rank_", 5))
        last += 5;
    snprintf(num, sizeof num, "%d", rank);
    return rank >= 0 && strcmp(last, num) == 0;
}

long rdv_leak_keys(rdv_store *s, const char *prefix, int excused_rank,
                   long *excused, char *buf, size_t cap)
{
    char **keys = NULL, pk[96];
    size_t n = 0, o = 0, plen = strlen(prefix);
    long left = 0;
    int rc;

    buf[0] = '\0';
    *excused = 0;
    if ((rc = rdv_store_list(s, prefix, &keys, &n))) {
        snprintf(buf, cap, "%s", rdv_store_errmsg(s));
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (key_of_rank(keys[i] + plen, excused_rank)) {
            ++*excused;
            continue;
        }
        if (left++ < 4 && o < cap)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "",
                                  rdv_key_printable(keys[i] + plen, pk,
                                                    sizeof pk));
    }
    if (left > 4 && o < cap)
        snprintf(buf + o, cap - o, ", ...");
    rdv_store_list_free(keys, n);
    if (n)
        rdv_store_delete_prefix(s, prefix, NULL);
    return left;
}

#define RUN_KEY_STEM "run-"

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Drops the keys of runs (ours or concurrent ones) and sorts the rest. */
static void keep_foreign(rdv_key_snapshot *snap)
{
    size_t w = 0;

    for (size_t i = 0; i < snap->n; i++) {
        if (strncmp(snap->keys[i], RUN_KEY_STEM, strlen(RUN_KEY_STEM)) == 0)
            free(snap->keys[i]);
        else
            snap->keys[w++] = snap->keys[i];
    }
    snap->n = w;
    if (snap->n > 1)
        qsort(snap->keys, snap->n, sizeof *snap->keys, key_cmp);
}

int rdv_key_snapshot_take(rdv_store *s, rdv_key_snapshot *snap)
{
    int rc;

    snap->keys = NULL;
    snap->n = 0;
    if ((rc = rdv_store_list(s, "", &snap->keys, &snap->n)))
        return rc;
    keep_foreign(snap);
    return RDV_OK;
}

long rdv_key_snapshot_new(rdv_store *s, const rdv_key_snapshot *before,
                          char *buf, size_t cap)
{
    rdv_key_snapshot now;
    char pk[96];
    size_t o = 0;
    long fresh = 0;
    int rc;

    buf[0] = '\0';
    if ((rc = rdv_key_snapshot_take(s, &now))) {
        snprintf(buf, cap, "%s", rdv_store_errmsg(s));
        return rc;
    }
    for (size_t i = 0; i < now.n; i++) {
        if (before->n && bsearch(&now.keys[i], before->keys, before->n,
                                    sizeof *before->keys, key_cmp))
            continue;
        if (fresh++ < 4 && o < cap)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "",
                                  rdv_key_printable(now.keys[i], pk,
                                                    sizeof pk));
    }
    if (fresh > 4 && o < cap)
        snprintf(buf + o, cap - o, ", ...");
    rdv_key_snapshot_free(&now);
    return fresh;
}

void rdv_key_snapshot_free(rdv_key_snapshot *snap)
{
    rdv_store_list_free(snap->keys, snap->n);
    snap->keys = NULL;
    snap->n = 0;
}

int rdv_leak_temp_files(const char *dir, const char *run_id, char *buf,
                        size_t cap)
{
    char stem[96];
    struct dirent *e;
    DIR *d;
    int n = 0;

    buf[0] = '\0';
    if (!dir)
        dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
                                                     : "/tmp";
    snprintf(stem, sizeof stem, "rdv-%s", run_id);
    if (!(d = opendir(dir)))
        return 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, stem, strlen(stem)) != 0)
            continue;
        if (!n++)
            snprintf(buf, cap, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

/* 1 when name holds pid as a number not part of a longer one. */
static int names_pid(const char *name, pid_t pid)
{
    char num[16];
    size_t len;

    snprintf(num, sizeof num, "%d", (int)pid);
    len = strlen(num);
    for (const char *p = strstr(name, num); p; p = strstr(p + 1, num)) {
        int before = p > name && p[-1] >= '0' && p[-1] <= '9';
        int after = p[len] >= '0' && p[len] <= '9';

        if (!before && !after)
            return 1;
    }
    return 0;
}

int rdv_leak_store_files(const char *url, const pid_t *pids, int n,
                         char *buf, size_t cap)
{
    const char *dir;
    struct dirent *e;
    rdv_url u;
    DIR *d;
    int found = 0;

    buf[0] = '\0';
    if (rdv_url_parse(url, &u, NULL, 0))
        return 0; /* the store opened it, so this does not happen */
    dir = u.path; /* decoded: "file:///tmp/a%20b" is "/tmp/a b" */
    if (strcmp(u.scheme, "file") != 0 || !(d = opendir(dir))) {
        rdv_url_free(&u);
        return 0;
    }
    while ((e = readdir(d))) {
        for (int i = 0; i < n; i++) {
            if (pids[i] <= 0 || !names_pid(e->d_name, pids[i]))
                continue;
            if (!found++)
                snprintf(buf, cap, "%s/%s (rank %d's pid)", dir, e->d_name,
                         i);
            break;
        }
    }
    closedir(d);
    rdv_url_free(&u);
    return found;
}
