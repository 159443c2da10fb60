/*
 * tests/ref/stores/exec/bad_adapter.c - an exec store adapter in plain C
 * that misbehaves on request, for the exec tests: a real process on a
 * real socketpair, no mocks. `--mode=M` (the URL's ?mode=M) picks it:
 *
 *   good      a correct gloo-level adapter over an in-memory map
 *             (set, get, wait; scope=process), the base of the others
 *   full      claims level full without the ops it needs
 *   version   answers the hello with protocol version 99
 *   refuse    refuses to start, quoting its arguments
 *   exit      exits with status 3 before reading anything
 *   garbage   answers the hello with text, as an adapter that prints
 *   crash     is killed by SIGSEGV on its first get
 *   silent    never answers a request after the hello (it sleeps; it
 *             even ignores SIGTERM)
 *   oversize  answers a get with a value length of 64 MiB + 1
 *   badstatus answers a get with status 7
 *
 * Every mode declares scope=process unless --scope=shared is given (then
 * rdv starts a new adapter after one breaks).
 *
 * The protocol is ref/src/stores/EXEC_PROTOCOL.md; this is its smallest
 * adapter, so it also shows the shape of one written in C.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_KEYS 64

static const char *mode = "good", *scope = "process";
static struct {
    char *key, *val;
    uint32_t len;
} map[MAX_KEYS];
static int nkeys;

static void read_exact(void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(0, (char *)buf + got, n - got);

        if (r <= 0)
            exit(0); /* rdv closed the store */
        got += (size_t)r;
    }
}

static void write_all(const void *buf, size_t n)
{
    for (size_t put = 0; put < n;) {
        ssize_t w = write(1, (const char *)buf + put, n - put);

        if (w <= 0)
            exit(1);
        put += (size_t)w;
    }
}

static uint32_t u32(void)
{
    unsigned char b[4];

    read_exact(b, 4);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           b[3];
}

static int64_t i64(void)
{
    uint64_t hi = u32();

    return (int64_t)(hi << 32 | u32());
}

static char *bytes(uint32_t *len)
{
    uint32_t n = u32();
    char *p = malloc((size_t)n + 1);

    if (!p)
        exit(1);
    read_exact(p, n);
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

static void put32(uint32_t v)
{
    unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};

    write_all(b, 4);
}

static void put_bytes(const char *p, uint32_t n)
{
    put32(n);
    write_all(p, n);
}

static void reply(int type, int32_t status)
{
    unsigned char t = (unsigned char)type;

    write_all(&t, 1);
    put32((uint32_t)status);
}

static void fail(int type, int32_t status, const char *msg)
{
    reply(type, status);
    put_bytes(msg, (uint32_t)strlen(msg));
}

static int find(const char *key)
{
    for (int i = 0; i < nkeys; i++)
        if (strcmp(map[i].key, key) == 0)
            return i;
    return -1;
}

static void hello(int argc, char **argv)
{
    const char *level = strcmp(mode, "full") == 0 ? "full" : "gloo";
    const char *pairs[] = {"level", level, "ops", "set,get,wait", "scope",
                           scope};
    unsigned char type;
    char args[512] = "";

    read_exact(&type, 1);
    free(bytes(NULL)); /* magic */
    u32();
    u32(); /* the versions rdv speaks */
    if (strcmp(mode, "garbage") == 0) {
        write_all("hello rdv\n", 10);
        pause();
    }
    if (strcmp(mode, "refuse") == 0) {
        for (int i = 1; i < argc; i++)
            snprintf(args + strlen(args), sizeof args - strlen(args), "%s%s",
                     i > 1 ? " " : "", argv[i]);
        fail(1, -7, args);
        exit(2);
    }
    reply(1, 0);
    put_bytes("rdv-exec", 8);
    put32(strcmp(mode, "version") == 0 ? 99 : 1);
    put32(3);
    for (int i = 0; i < 6; i++)
        put_bytes(pairs[i], (uint32_t)strlen(pairs[i]));
}

static void do_get(void)
{
    char *key = bytes(NULL);
    int64_t timeout = i64();
    int i = find(key);

    if (strcmp(mode, "crash") == 0) {
        signal(SIGSEGV, SIG_DFL); /* past a sanitizer's handler */
        raise(SIGSEGV);
    }
    if (strcmp(mode, "oversize") == 0) {
        reply(3, 0);
        put32(64u * 1024 * 1024 + 1);
    } else if (strcmp(mode, "badstatus") == 0) {
        fail(3, 7, "seven");
    } else if (i < 0) {
        usleep(timeout > 0 ? (useconds_t)timeout * 1000 : 0);
        fail(3, -1, "get timed out: the key is missing");
    } else {
        reply(3, 0);
        put_bytes(map[i].val, map[i].len);
    }
    free(key);
}

static void do_set(void)
{
    uint32_t len;
    char *key = bytes(NULL), *val;
    int i;

    u32(); /* flags: create-only is not used here */
    val = bytes(&len);
    if ((i = find(key)) < 0 && nkeys < MAX_KEYS)
        i = nkeys++;
    if (i < 0) {
        fail(2, -8, "the map is full");
        return;
    }
    free(map[i].key);
    free(map[i].val);
    map[i].key = key;
    map[i].val = val;
    map[i].len = len;
    reply(2, 0);
}

static void do_wait(void)
{
    uint32_t n = u32();
    int missing = 0;

    for (uint32_t k = 0; k < n; k++) {
        char *key = bytes(NULL);

        missing += find(key) < 0;
        free(key);
    }
    i64();
    if (missing)
        fail(4, -1, "wait timed out");
    else
        reply(4, 0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--mode=", 7) == 0)
            mode = argv[i] + 7;
        else if (strncmp(argv[i], "--scope=", 8) == 0)
            scope = argv[i] + 8;
    if (strcmp(mode, "exit") == 0)
        return 3;
    hello(argc, argv);
    for (;;) {
        unsigned char type;

        read_exact(&type, 1);
        if (strcmp(mode, "silent") == 0) {
            signal(SIGTERM, SIG_IGN); /* only SIGKILL ends it */
            for (;;)
                pause();
        }
        switch (type) {
        case 2: do_set(); break;
        case 3: do_get(); break;
        case 4: do_wait(); break;
        default: return 4; /* rdv sent an op we did not declare */
        }
    }
}
