// TCP rendezvous on MASTER_ADDR:MASTER_PORT (see include/rendezvous.h).
#include "rendezvous.h"

#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "util.h"

// sends or receives exactly n bytes; 0 on success
static int transfer(int fd, void *buf, size_t n, int sending) {
    for (size_t done = 0; done < n;) {
        char *at = (char *)buf + done;
        ssize_t k = sending ? send(fd, at, n - done, MSG_NOSIGNAL) : recv(fd, at, n - done, 0);
        if (k <= 0) return -1;
        done += (size_t)k;
    }
    return 0;
}

static int serve(const char *port, int world, const void *blob, size_t n, double deadline) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    if (getaddrinfo(NULL, port, &hints, &ai) != 0) {
        scpt_set_error("rendezvous: bad MASTER_PORT '%s'", port);
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), one = 1, rc = -1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, world) != 0) {
        scpt_set_error("rendezvous: rank 0 cannot listen on port %s", port);
        goto done;
    }
    for (int served = 1; served < world; served++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        double left = deadline - wall_time();
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) != 1) {
            scpt_set_error("rendezvous: only %d of %d ranks connected to port %s in time", served, world, port);
            goto done;
        }
        int peer = accept(fd, NULL, NULL);
        int failed = peer < 0 || transfer(peer, (void *)blob, n, 1) != 0;
        if (peer >= 0) close(peer);
        if (failed) {
            scpt_set_error("rendezvous: sending to a rank failed");
            goto done;
        }
    }
    rc = 0;
done:
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return rc;
}

static int fetch(const char *addr, const char *port, void *blob, size_t n, double deadline) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(addr, port, &hints, &ai) != 0) {
        scpt_set_error("rendezvous: cannot resolve MASTER_ADDR '%s' port '%s'", addr, port);
        return -1;
    }
    int rc = -1;
    // rank 0 may not be listening yet: retry until the deadline
    while (rc != 0 && wall_time() < deadline) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 && transfer(fd, blob, n, 0) == 0) rc = 0;
        if (fd >= 0) close(fd);
        if (rc != 0) usleep(100 * 1000);
    }
    if (rc != 0) scpt_set_error("rendezvous: no answer from rank 0 at %s:%s in time", addr, port);
    freeaddrinfo(ai);
    return rc;
}

int rendezvous_share(const char *addr, const char *port, int rank, int world, void *blob, size_t n,
                     double timeout_s) {
    if (!addr || !port) {
        scpt_set_error("rendezvous: MASTER_ADDR and MASTER_PORT must be set for a torchrun-style launch");
        return -1;
    }
    double deadline = wall_time() + timeout_s;
    return rank == 0 ? serve(port, world, blob, n, deadline) : fetch(addr, port, blob, n, deadline);
}
