/*
 * rendezvous/codec.h - the rendezvous wire formats, with no I/O: the
 * address record each rank publishes in the store, and the handshake
 * message exchanged on every new connection. Bytes in, messages out, so
 * the rendezvous, the tests and a fuzzer share one decoder.
 *
 * Both formats are fixed-size, little-endian, versioned and end in an
 * FNV-1a checksum, so a truncated, torn or foreign value is refused with
 * a reason instead of being half-read.
 *
 * Thread- and fork-safe: pure functions.
 */
#ifndef RDV_RENDEZVOUS_CODEC_H
#define RDV_RENDEZVOUS_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* 2: the checksums are FNV-1a from its real offset basis (1 started
 * from a basis that had lost a digit); the layout is the same. */
#define RDV_RECORD_VERSION 2
#define RDV_RECORD_SIZE 128
#define RDV_HOSTNAME_MAX 63
#define RDV_HELLO_SIZE 40

/* One rank's published address. family is AF_INET or AF_INET6 and addr
 * holds the address in network order (4 or 16 bytes). */
typedef struct rdv_record {
    uint32_t rank, size;
    uint16_t family, port; /* port in host order */
    uint8_t addr[16];
    uint32_t pid;
    uint64_t nonce; /* random per run: proves a peer read this record */
    uint64_t token; /* rdv_job_token(job): separates jobs */
    char hostname[RDV_HOSTNAME_MAX + 1];
} rdv_record;

enum { RDV_HELLO_CONNECT = 1, RDV_HELLO_ACCEPT = 2 };

/* The handshake: the connector sends kind CONNECT with its rank and the
 * nonce it read in the acceptor's record; the acceptor answers kind
 * ACCEPT with its own rank and the connector's nonce. */
typedef struct rdv_hello {
    uint16_t kind;
    uint32_t rank, size;
    uint64_t token;
    uint64_t nonce; /* the nonce of the side receiving this message */
} rdv_hello;

/* A 64-bit digest of the job name (never 0). */
uint64_t rdv_job_token(const char *job);

void rdv_record_encode(const rdv_record *r, uint8_t out[RDV_RECORD_SIZE]);
/* RDV_OK, or RDV_EPROTO with the reason in why ("checksum mismatch",
 * "record is 5 bytes, expected 128", ...). Never reads past len. */
int rdv_record_decode(const void *buf, size_t len, rdv_record *out,
                      char *why, size_t whylen);
/* Checks a decoded record against what the reader expects: the rank of
 * its key, the job size and token. RDV_OK or RDV_EPROTO with why. */
int rdv_record_check(const rdv_record *r, uint32_t key_rank, uint32_t size,
                     uint64_t token, char *why, size_t whylen);
/* The record's address as a sockaddr (port included); returns its
 * length. */
socklen_t rdv_record_sockaddr(const rdv_record *r,
                              struct sockaddr_storage *ss);
/* Fills family/addr/port from a sockaddr; RDV_EINVAL for other
 * families. */
int rdv_record_set_addr(rdv_record *r, const struct sockaddr_storage *ss);

void rdv_hello_encode(const rdv_hello *h, uint8_t out[RDV_HELLO_SIZE]);
/* RDV_OK, or RDV_EPROTO with why. Checks the format only; the caller
 * checks token, rank and nonce against its own state. */
int rdv_hello_decode(const void *buf, size_t len, rdv_hello *out, char *why,
                     size_t whylen);

#endif
