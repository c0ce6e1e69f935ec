/*
 * libFuzzer over the rxe queue code (rxe_queue.h), with ASan and UBSan:
 * the input is a ring's header and indices as a hostile or buggy driver
 * could leave them, plus descriptors as a buggy caller could build them.
 * Every access must stay inside the mapping, whatever the bytes say.
 *
 *   npm run fuzz   (scripts/fuzz: clang -fsanitize=fuzzer,address,undefined)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rxe_queue.h"

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
    /* the driver may move its index at any time: vary it between calls too */
    switch (h.kind % 3) {
    case 0:
      rxe_poll_cq(&q, out, h.max % 9);
      buf->producer_index = h.consumer ^ h.producer;
      rxe_poll_cq(&q, out, h.max % 9);
      break;
    case 1:
      rxe_post_send(&q, desc, words, h.count % 64, inl, inl_len, &status);
      buf->consumer_index = h.producer;
      rxe_post_send(&q, desc, words, h.count % 64, inl, inl_len, &status);
      break;
    default:
      rxe_post_recv(&q, desc, words, h.count % 64, &status);
      buf->consumer_index = h.producer;
      rxe_post_recv(&q, desc, words, h.count % 64, &status);
      break;
    }
    free(desc);
    free(inl);
  }
  free(buf);
  return 0;
}
