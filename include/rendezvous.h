// A TCP rendezvous for torchrun-style launches (MASTER_ADDR/MASTER_PORT), which have
// no MPI to bootstrap NCCL: rank 0 listens on the port and hands the same bytes (the
// NCCL unique id) to every other rank, which connects, retrying until rank 0 is up.
#ifndef SCPT_RENDEZVOUS_H
#define SCPT_RENDEZVOUS_H

#include <stddef.h>

// rank 0: blob is sent to the world-1 others; other ranks: blob receives it.
// -1 with scpt_error() on a network error or after timeout_s seconds.
int rendezvous_share(const char *addr, const char *port, int rank, int world, void *blob, size_t n,
                     double timeout_s);

#endif
