/*
 * libFuzzer over the siw queue code (siw_queue.h), with ASan and UBSan:
 * the input is a ring's slot count, the flags a hostile or buggy driver
 * could leave in its slots, our own index, plus descriptors as a buggy
 * caller could build them. Every access must stay inside the mapping,
 * whatever the bytes say; a post may write only the free slots it posts
 * (all of them or none: a post that fails writes nothing), a poll only
 * the flags of the CQEs it returns, an arm only the siw_cq_ctrl word
 * (each checked against a copy taken before the call).
 *
 *   npm run fuzz   (scripts/fuzz: clang -fsanitize=fuzzer,address,undefined)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "siw_queue.h"

/* A slot's flags as the element type places them: u16 at 8 in SQE/RQE, u8 at 8 in a CQE. */
static int slot_valid(const struct siw_queue *q, enum siw_ring kind, uint32_t s) {
  const uint8_t *at = q->base + (size_t)s * q->elem + 8;
  return kind == SIW_RING_CQ ? (at[0] & SIW_WQE_VALID) != 0 : (((uint16_t)at[0] | (uint16_t)at[1] << 8) & SIW_WQE_VALID) != 0;
}

/*
 * What a post may change: exactly `n` slots from `from` (n is count or 0),
 * each of which was free before. What a poll may change: the flags byte of
 * the `n` CQEs it returned, from `from`. An arm: the ctrl word. Anything
 * else differing from `before` aborts.
 */
static void check_untouched(const struct siw_queue *q, const uint8_t *before, uint32_t from, uint32_t n,
                            enum siw_ring kind, int arm) {
  if (n > q->slots) __builtin_trap(); /* more than the ring holds: a slot written twice */
  for (uint32_t s = 0; s < q->slots; s++) {
    size_t at = (size_t)s * q->elem;
    int mine = ((s + q->slots - from) % q->slots) < n;
    if (kind == SIW_RING_CQ) {
      if (memcmp(q->base + at, before + at, 8) != 0 || memcmp(q->base + at + 9, before + at + 9, q->elem - 9) != 0)
        __builtin_trap();
      if (!mine && q->base[at + 8] != before[at + 8]) __builtin_trap();
      if (mine && q->base[at + 8] != 0) __builtin_trap(); /* handed back */
    } else if (!mine && memcmp(q->base + at, before + at, q->elem) != 0) {
      __builtin_trap();
    } else if (mine && !slot_valid(q, kind, s)) {
      __builtin_trap(); /* posted means published */
    } else if (mine && (before[at + 8] & SIW_WQE_VALID)) {
      __builtin_trap(); /* a slot the driver still owned */
    }
  }
  size_t end = (size_t)q->slots * q->elem;
  size_t ctrl = kind == SIW_RING_CQ ? sizeof(struct siw_cq_ctrl) : 0;
  if (!arm && memcmp(q->base + end, before + end, ctrl) != 0) __builtin_trap();
  if (memcmp(q->base + end + ctrl, before + end + ctrl, q->length - end - ctrl) != 0) __builtin_trap();
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
    uint8_t kind;    /* 0 cq, 1 sq, 2 rq */
    uint8_t slots;   /* as the create response said */
    uint8_t slack;   /* the mapping's length: what the slots need, then -64..+63 bytes */
    uint8_t fill;    /* what the driver left in the slots' other bytes */
    uint32_t next;   /* our index, as a previous post left it */
    uint32_t valid;  /* which slots the driver left VALID (bit per slot, repeated) */
    uint16_t count;
    uint16_t max;
  } h;
  take(&data, &size, &h, sizeof h);
  enum siw_ring kind = (enum siw_ring)(h.kind % 3);
  size_t elem = kind == SIW_RING_CQ ? sizeof(struct siw_cqe) : kind == SIW_RING_SQ ? sizeof(struct siw_sqe) : sizeof(struct siw_rqe);
  size_t need = (size_t)(h.slots % 33) * elem + (kind == SIW_RING_CQ ? sizeof(struct siw_cq_ctrl) : 0);
  size_t length = need + h.slack < 64 ? 8 : need + h.slack - 64;
  /* exactly `length` bytes from malloc: ASan sees one byte past it */
  uint8_t *base = malloc(length);
  if (base == NULL) return 0;
  memset(base, h.fill, length);
  struct siw_queue q;
  if (siw_queue_attach(&q, base, length, kind, h.slots % 33) == 0) {
    q.next = h.next % q.slots;
    for (uint32_t s = 0; s < q.slots; s++) {
      uint8_t *flags = base + (size_t)s * q.elem + 8;
      if (h.valid >> (s % 32) & 1) flags[0] |= SIW_WQE_VALID;
      else flags[0] &= (uint8_t)~SIW_WQE_VALID;
    }
    size_t words = size / 16;
    uint64_t *desc = malloc(words * 8 + 1);
    take(&data, &size, desc, words * 8);
    size_t inl_len = size;
    uint8_t *inl = malloc(inl_len + 1);
    take(&data, &size, inl, inl_len);
    enum siw_post_status status;
    uint8_t out[8 * sizeof(struct ib_uverbs_wc)];
    uint8_t *before = malloc(length);
    for (int round = 0; round < 2; round++) {
      memcpy(before, base, length);
      uint32_t from = q.next, n;
      switch (kind) {
      case SIW_RING_CQ:
        n = siw_poll_cq(&q, out, h.max % 9);
        check_untouched(&q, before, from, n, kind, 0);
        if (q.next != (from + n) % q.slots) __builtin_trap();
        memcpy(before, base, length);
        siw_arm_cq(&q, h.count & 1);
        check_untouched(&q, before, 0, 0, kind, 1);
        break;
      case SIW_RING_SQ:
        n = siw_post_send(&q, desc, words, h.count % 64, inl, inl_len, &status);
        if (n != 0 && n != h.count % 64) __builtin_trap(); /* all or none: descriptors do not change here */
        check_untouched(&q, before, from, n, kind, 0);
        break;
      default:
        n = siw_post_recv(&q, desc, words, h.count % 64, &status);
        if (n != 0 && n != h.count % 64) __builtin_trap();
        check_untouched(&q, before, from, n, kind, 0);
        break;
      }
      /* the driver takes a few slots back (or completes some) between calls */
      for (uint32_t s = 0; s < q.slots; s++)
        if (h.max >> (s % 16) & 1) base[(size_t)s * q.elem + 8] ^= SIW_WQE_VALID;
    }
    free(before);
    free(desc);
    free(inl);
  }
  free(base);
  return 0;
}
