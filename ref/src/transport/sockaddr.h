/*
 * transport/sockaddr.h - socket address formatting shared by the
 * transport, the rendezvous and the context's error messages.
 */
#ifndef RDV_TRANSPORT_SOCKADDR_H
#define RDV_TRANSPORT_SOCKADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Writes "1.2.3.4:port", "[::1]:port", or "?" for another family into
 * buf (always NUL-terminated). Returns buf. */
const char *rdv_sockaddr_format(const struct sockaddr_storage *ss, char *buf,
                                size_t cap);

#endif
