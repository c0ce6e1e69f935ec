/*
 * libFuzzer over the rxe queue code (rxe_queue.h), with ASan and UBSan:
 * the input is a ring's header and indices as a hostile or buggy driver
 * could leave them, plus descriptors as a buggy caller could build them.
 * Every access must stay inside the mapping, whatever the bytes say, and
 * a post may write only the slots it posts and its own index (checked
 * against a copy taken before the call).
 *
 *   npm run fuzz   (scripts/fuzz: clang -fsanitize=fuzzer,address,undefined)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rxe_queue.h"

/*
 * What a post may change: the free slots it was asked to fill (`n` from
 * `from`; a batch that fails part-way leaves scribbled but unpublished free
 * slots, which the driver never reads) and the producer index; what a poll
 * may change: the consumer index. Anything else differing from `before` (a
 * WQE spilling into a slot the driver owns, a write to the header) aborts.
 */
static void check_untouched(const struct rxe_queue *q, const uint8_t *before, uint32_t from, uint32_t n,
                            size_t own_index) {
  const uint8_t *now = (const uint8_t *)q->buf;
  size_t header = sizeof(struct rxe_queue_buf);
  for (size_t i = 0; i < header; i += 4)
    if (i != own_index && memcmp(now + i, before + i, 4) != 0) __builtin_trap();
  for (uint32_t s = 0; s <= q->mask; s++) {
    int posted = ((s - from) & q->mask) < n;
    size_t at = header + (size_t)s * q->elem_size;
    if (!posted && memcmp(now + at, before + at, q->elem_size) != 0) __builtin_trap();
  }
  size_t end = header + ((size_t)q->mask + 1) * q->elem_size;
  if (memcmp(now + end, before + end, q->length - end) != 0) __builtin_trap();
}

/* Pulls `n` bytes off the front of the input (zeros once it runs out). */
static void take(const uint8_t **data, size_t *size, void *out, size_t n) {
  size_t k = *size < n ? *size : n;
  memset(out, 0, n);
  memcpy(out, *data, k);
  *data += k;
  *size -= k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct {
    uint8_t kind;       /* 0 cq, 1 sq, 2 rq */
    uint8_t log2_elem;  /* header as the driver wrote it */
    uint32_t mask;
    uint32_t producer;
    uint32_t consumer;
    uint32_t pages;     /* mapping length, in 512-byte units */
    uint16_t count;
    uint16_t max;
  } h;
  take(&data, &size, &h, sizeof h);
  size_t length = sizeof(struct rxe_queue_buf) + (size_t)(h.pages % 64) * 512;
  /* exactly `length` bytes from malloc: ASan sees one byte past it */
  struct rxe_queue_buf *buf = malloc(length);
  if (buf == NULL) return 0;
  memset(buf, 0, length);
  buf->log2_elem_size = h.log2_elem;
  buf->index_mask = h.mask;
  buf->producer_index = h.producer;
  buf->consumer_index = h.consumer;
  static const uint32_t min_elem[] = {sizeof(struct ib_uverbs_wc), sizeof(struct rxe_send_wqe),
                                      sizeof(struct rxe_recv_wqe)};
  struct rxe_queue q;
  if (rxe_queue_attach(&q, buf, length, min_elem[h.kind % 3]) == 0) {
    /* the rest of the input: descriptor words, then inline bytes */
    size_t words = size / 16;
    uint64_t *desc = malloc(words * 8 + 1);
    take(&data, &size, desc, words * 8);
    size_t inl_len = size;
    uint8_t *inl = malloc(inl_len + 1);
    take(&data, &size, inl, inl_len);
    enum rxe_post_status status;
    uint8_t out[8 * sizeof(struct ib_uverbs_wc)];
    uint8_t *before = malloc(length);
    size_t prod_at = offsetof(struct rxe_queue_buf, producer_index);
    size_t cons_at = offsetof(struct rxe_queue_buf, consumer_index);
    /* the driver may move its index at any time: vary it between calls too */
    for (int round = 0; round < 2; round++) {
      memcpy(before, buf, length);
      uint32_t from = buf->producer_index & q.mask, n;
      /* room before the call, from the indices as they were */
      uint32_t room = rxe_queue_room(&q, from, buf->consumer_index & q.mask);
      switch (h.kind % 3) {
      case 0:
        rxe_poll_cq(&q, out, h.max % 9);
        check_untouched(&q, before, 0, 0, cons_at);
        buf->producer_index = h.consumer ^ h.producer;
        break;
      case 1:
        rxe_post_send(&q, desc, words, h.count % 64, inl, inl_len, &status);
        n = h.count % 64 <= room ? h.count % 64 : 0;
        check_untouched(&q, before, from, n, prod_at);
        buf->consumer_index = h.producer;
        break;
      default:
        rxe_post_recv(&q, desc, words, h.count % 64, &status);
        n = h.count % 64 <= room ? h.count % 64 : 0;
        check_untouched(&q, before, from, n, prod_at);
        buf->consumer_index = h.producer;
        break;
      }
    }
    free(before);
    free(desc);
    free(inl);
  }
  free(buf);
  return 0;
}
