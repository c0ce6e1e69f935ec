/*
 * The plain C loop `npm run bench` compares our JS path with: polling a
 * synthetic rxe CQ ring in memory with native/rxe_queue.h's rxe_poll_cq,
 * the very code the addon runs, with no JS around it.
 *   ring-c BATCH ROUNDS   -> {"batch": B, "rounds": R, "ns": total}
 * BATCH 0 measures an empty poll.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../native/rxe_queue.h"

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  unsigned batch = (unsigned)atoi(argv[1]), rounds = (unsigned)atoi(argv[2]);
  unsigned slots = 1024, log2_elem = 6;
  size_t length = sizeof(struct rxe_queue_buf) + ((size_t)slots << log2_elem);
  struct rxe_queue_buf *buf = aligned_alloc(4096, (length + 4095) & ~(size_t)4095);
  memset(buf, 0, length);
  buf->log2_elem_size = log2_elem;
  buf->index_mask = slots - 1;
  struct rxe_queue q;
  if (rxe_queue_attach(&q, buf, length, sizeof(struct ib_uverbs_wc))) return 1;
  static uint8_t out[256 * sizeof(struct ib_uverbs_wc)];
  struct timespec a, b;
  unsigned long got = 0;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (unsigned r = 0; r < rounds; r++) {
    /* the driver's side: `batch` more completions */
    rxe_store_release(&buf->producer_index, (buf->producer_index + batch) & q.mask);
    got += rxe_poll_cq(&q, out, batch ? batch : 1);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
  printf("{\"batch\":%u,\"rounds\":%u,\"ns\":%lld,\"got\":%lu}\n", batch, rounds, ns, got);
  return 0;
}
