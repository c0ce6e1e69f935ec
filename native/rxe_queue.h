/*
 * The rxe queue protocol, as user space sees it: no Node in here, so the
 * fuzzer and the benchmark drive exactly the code the addon runs.
 *
 * Facts (read, not copied):
 * - include/uapi/rdma/rdma_user_rxe.h: struct rxe_queue_buf (the ring
 *   header, its indices on their own lines), rxe_send_wqe, rxe_recv_wqe,
 *   rxe_sge; the CQE is struct ib_uverbs_wc (include/uapi/rdma/ib_user_verbs.h).
 * - drivers/infiniband/sw/rxe/rxe_queue.h: who owns which index. Work
 *   queues (SQ, RQ, SRQ) are "from client": user space owns the producer
 *   index, the driver the consumer, which it reads with smp_load_acquire
 *   and advances with smp_store_release. The CQ is "to client": the
 *   driver owns the producer; user space owns the consumer.
 * - Indices are always masked with index_mask; one slot stays empty, so
 *   the queue is full when (producer + 1) & mask == consumer.
 * - drivers/infiniband/sw/rxe/rxe_req.c: the requester recomputes
 *   wqe->mask from the opcode and takes WQEs whose state is 0
 *   (wqe_state_posted); user space fills wr, iova and dma.
 *
 * The geometry (element size, index mask) is read from the header once,
 * validated against the mapping's length, and kept here: nothing read
 * later from shared memory can move an access outside the mapping.
 */

#ifndef UVERBS_RXE_QUEUE_H
#define UVERBS_RXE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rdma/ib_user_verbs.h>
#include <rdma/rdma_user_rxe.h>

/* The barriers the protocol names, paired with the driver's. */

/* Pairs with the driver's smp_store_release of the index it owns. */
static inline uint32_t rxe_load_acquire(const uint32_t *index) {
  return __atomic_load_n(index, __ATOMIC_ACQUIRE);
}

/* Publishes every store to the slots before it; pairs with the driver's smp_load_acquire. */
static inline void rxe_store_release(uint32_t *index, uint32_t value) {
  __atomic_store_n(index, value, __ATOMIC_RELEASE);
}

/* Our own index: only this process writes it, but the driver reads it concurrently. */
static inline uint32_t rxe_load_own(const uint32_t *index) {
  return __atomic_load_n(index, __ATOMIC_RELAXED);
}

/*
 * One load of a descriptor word that sizes a copy or a bounds check: the
 * compiler may neither repeat it nor split it, so the value checked is the
 * value used even if another thread writes the (shared) descriptor array.
 */
static inline uint64_t rxe_read_once_u64(const uint64_t *word) {
  return __atomic_load_n(word, __ATOMIC_RELAXED);
}

struct rxe_queue {
  struct rxe_queue_buf *buf;
  size_t length;      /* bytes mapped, header included */
  uint32_t mask;      /* index_mask, as validated at attach */
  uint32_t elem_size; /* 1 << log2_elem_size, as validated at attach */
};

/*
 * Reads and checks the header of a mapped ring: element size at least
 * `min_elem`, a power-of-two slot count, every slot inside `length`.
 * Returns 0, or -1 when the header cannot describe this mapping.
 */
static inline int rxe_queue_attach(struct rxe_queue *q, void *base, size_t length, uint32_t min_elem) {
  struct rxe_queue_buf *buf = base;
  if (base == NULL || length < sizeof(*buf)) return -1;
  uint32_t log2_elem = buf->log2_elem_size;
  uint32_t mask = buf->index_mask;
  if (log2_elem > 16) return -1;
  uint32_t elem = UINT32_C(1) << log2_elem;
  if (elem < min_elem) return -1;
  if ((mask & (mask + 1)) != 0 || mask == UINT32_MAX) return -1;
  uint64_t need = (uint64_t)sizeof(*buf) + ((uint64_t)mask + 1) * elem;
  if (need > length) return -1;
  q->buf = buf;
  q->length = length;
  q->mask = mask;
  q->elem_size = elem;
  return 0;
}

static inline void *rxe_queue_slot(const struct rxe_queue *q, uint32_t index) {
  return q->buf->data + (size_t)(index & q->mask) * q->elem_size;
}

/*
 * The work request descriptors JS hands over: little arrays of u64 words
 * in memory JS owns, so a batch crosses into C once and no JS object is
 * read on the way. Every word is a value the kernel checks (keys,
 * addresses inside MRs): none of them is ever dereferenced here. The slot
 * numbers are exported to JS by the addon, so they are written down once.
 */
enum uverbs_send_desc {
  SEND_WR_ID,
  SEND_OPCODE,      /* enum ib_uverbs_wr_opcode */
  SEND_FLAGS,       /* enum ib_uverbs_send_flags */
  SEND_IMM,         /* host order; stored big-endian */
  SEND_REMOTE_ADDR, /* RDMA and atomics */
  SEND_RKEY,
  SEND_COMPARE_ADD, /* atomics; ATOMIC_WRITE: the 8 bytes written, as a host-order u64 */
  SEND_SWAP,
  SEND_FLUSH,        /* FLUSH: type (enum ib_placement_type) | level (enum ib_selectivity_level) << 8 */
  SEND_FLUSH_LENGTH, /* FLUSH: bytes from remote_addr (level IB_FLUSH_RANGE) */
  SEND_UD_QPN,
  SEND_UD_QKEY,
  SEND_UD_AH_NUM,
  SEND_INLINE,        /* 1: the payload is copied into the WQE (JS sets IB_SEND_INLINE in FLAGS too) */
  SEND_INLINE_OFFSET, /* into the inline buffer */
  SEND_INLINE_LENGTH,
  SEND_INVALIDATE_RKEY, /* LOCAL_INV, SEND_WITH_INV: ex.invalidate_rkey (host order) */
  SEND_MW_LENGTH,       /* BIND_MW: wr.mw.length; wr.mw.addr is REMOTE_ADDR, the new wr.mw.rkey is RKEY */
  SEND_MW_MR_LKEY,      /* BIND_MW: the region's lkey */
  SEND_MW_MW_RKEY,      /* BIND_MW: the window's current rkey (the kernel finds the window by it) */
  SEND_MW_ACCESS,       /* BIND_MW: enum ib_access_flags granted through the window */
  SEND_NUM_SGE,         /* then NUM_SGE pairs: addr, length | lkey << 32 */
  SEND_DESC_WORDS
};

enum uverbs_recv_desc { RECV_WR_ID, RECV_NUM_SGE, RECV_DESC_WORDS };

/*
 * FLUSH and ATOMIC_WRITE (ib_user_verbs.h and rdma_user_rxe.h since 6.2).
 * Spelled here so the addon also builds against older uapi headers (the
 * system's may be 6.1); src/abi/rxe.ts declares the same layout and the
 * conformance test proves it against the 6.12 and 7.x headers.
 * - opcodes: IB_UVERBS_WR_FLUSH 14, IB_UVERBS_WR_ATOMIC_WRITE 15;
 * - wr.flush overlays the wr union: remote_addr, length, rkey, type, level;
 * - dma.atomic_wr[] is the same flexible member position as inline_data[].
 */
#define UVERBS_WR_FLUSH 14
#define UVERBS_WR_ATOMIC_WRITE 15
struct uverbs_rxe_flush_wr {
  uint64_t remote_addr;
  uint32_t length;
  uint32_t rkey;
  uint8_t type;
  uint8_t level;
};
_Static_assert(sizeof(struct uverbs_rxe_flush_wr) <= sizeof(((struct rxe_send_wr *)0)->wr),
               "wr.flush fits the wr union");

#define UVERBS_SGE_WORDS 2

/* Why a post stopped early. */
enum rxe_post_status {
  RXE_POST_OK = 0,
  RXE_POST_FULL,    /* fewer free slots than work requests */
  RXE_POST_BAD_WR,  /* a descriptor that does not fit a slot or the words given */
};

/*
 * The largest message a work request may describe: the sum of its SGE
 * lengths may not exceed 2^31 (IB's maximum message size, rxe's
 * RXE_MAX_MSG_SIZE), so the 32-bit dma.length never wraps (two 2 GiB SGEs
 * would make it 0).
 */
#define RXE_MAX_MESSAGE 0x80000000ULL

/* Copies n SGEs; returns their total length, or UINT64_MAX if it exceeds RXE_MAX_MESSAGE. */
static inline uint64_t rxe_put_sges(struct rxe_sge *sge, const uint64_t *words, uint32_t n) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t addr = words[2 * i];
    uint64_t len_key = words[2 * i + 1];
    sge[i].addr = addr;
    sge[i].length = (uint32_t)len_key;
    sge[i].lkey = (uint32_t)(len_key >> 32);
    total += (uint32_t)len_key;
  }
  return total > RXE_MAX_MESSAGE ? UINT64_MAX : total;
}

/* Fills one send WQE from its descriptor; returns the words it used, or 0 if it does not fit. */
static inline size_t rxe_fill_send(struct rxe_send_wqe *wqe, uint32_t elem_size, const uint64_t *d, size_t words,
                                   const uint8_t *inl, size_t inl_len) {
  if (words < SEND_DESC_WORDS) return 0;
  /* each word that sizes a copy is read once: the descriptors are JS memory, and a shared one may change under us */
  uint64_t num_sge = rxe_read_once_u64(&d[SEND_NUM_SGE]);
  uint64_t flags = d[SEND_FLAGS];
  int inline_data = rxe_read_once_u64(&d[SEND_INLINE]) != 0;
  size_t room = elem_size - sizeof(*wqe);
  if (num_sge > room / sizeof(struct rxe_sge)) return 0;
  if ((words - SEND_DESC_WORDS) / UVERBS_SGE_WORDS < num_sge) return 0;
  size_t used = SEND_DESC_WORDS + (size_t)num_sge * UVERBS_SGE_WORDS;
  uint64_t inl_off = rxe_read_once_u64(&d[SEND_INLINE_OFFSET]), inl_n = rxe_read_once_u64(&d[SEND_INLINE_LENGTH]);
  if (inline_data && (inl_n > room || inl_off > inl_len || inl_n > inl_len - inl_off)) return 0;

  memset(wqe, 0, sizeof(*wqe)); /* state 0 = posted; status, mask, psns are the driver's */
  uint32_t opcode = (uint32_t)d[SEND_OPCODE];
  uint32_t flush_length = (uint32_t)d[SEND_FLUSH_LENGTH];
  wqe->wr.wr_id = d[SEND_WR_ID];
  wqe->wr.opcode = opcode;
  wqe->wr.send_flags = (uint32_t)flags;
  switch (opcode) {
  case IB_UVERBS_WR_SEND_WITH_IMM:
  case IB_UVERBS_WR_RDMA_WRITE_WITH_IMM:
    wqe->wr.ex.imm_data = __builtin_bswap32((uint32_t)d[SEND_IMM]);
    break;
  case IB_UVERBS_WR_LOCAL_INV:
  case IB_UVERBS_WR_SEND_WITH_INV:
    wqe->wr.ex.invalidate_rkey = (uint32_t)d[SEND_INVALIDATE_RKEY];
    break;
  default:
    break;
  }
  switch (opcode) {
  case IB_UVERBS_WR_RDMA_WRITE:
  case IB_UVERBS_WR_RDMA_WRITE_WITH_IMM:
  case IB_UVERBS_WR_RDMA_READ:
    wqe->wr.wr.rdma.remote_addr = d[SEND_REMOTE_ADDR];
    wqe->wr.wr.rdma.rkey = (uint32_t)d[SEND_RKEY];
    wqe->iova = d[SEND_REMOTE_ADDR];
    break;
  case IB_UVERBS_WR_ATOMIC_CMP_AND_SWP:
  case IB_UVERBS_WR_ATOMIC_FETCH_AND_ADD:
    wqe->wr.wr.atomic.remote_addr = d[SEND_REMOTE_ADDR];
    wqe->wr.wr.atomic.compare_add = d[SEND_COMPARE_ADD];
    wqe->wr.wr.atomic.swap = d[SEND_SWAP];
    wqe->wr.wr.atomic.rkey = (uint32_t)d[SEND_RKEY];
    wqe->iova = d[SEND_REMOTE_ADDR];
    break;
  case UVERBS_WR_ATOMIC_WRITE:
    wqe->wr.wr.rdma.remote_addr = d[SEND_REMOTE_ADDR];
    wqe->wr.wr.rdma.rkey = (uint32_t)d[SEND_RKEY];
    wqe->iova = d[SEND_REMOTE_ADDR];
    break;
  case UVERBS_WR_FLUSH: {
    struct uverbs_rxe_flush_wr flush = {
        .remote_addr = d[SEND_REMOTE_ADDR],
        .length = flush_length,
        .rkey = (uint32_t)d[SEND_RKEY],
        .type = (uint8_t)d[SEND_FLUSH],
        .level = (uint8_t)(d[SEND_FLUSH] >> 8),
    };
    memcpy(&wqe->wr.wr, &flush, sizeof(flush));
    wqe->iova = d[SEND_REMOTE_ADDR];
    break;
  }
  case IB_UVERBS_WR_BIND_MW:
    /* values the kernel checks (rxe_mw.c: the window by mw_rkey, the region by mr_lkey, the range inside it) */
    wqe->wr.wr.mw.addr = d[SEND_REMOTE_ADDR];
    wqe->wr.wr.mw.length = d[SEND_MW_LENGTH];
    wqe->wr.wr.mw.mr_lkey = (uint32_t)d[SEND_MW_MR_LKEY];
    wqe->wr.wr.mw.mw_rkey = (uint32_t)d[SEND_MW_MW_RKEY];
    wqe->wr.wr.mw.rkey = (uint32_t)d[SEND_RKEY];
    wqe->wr.wr.mw.access = (uint32_t)d[SEND_MW_ACCESS];
    break;
  case IB_UVERBS_WR_LOCAL_INV:
    break; /* ex.invalidate_rkey only */
  default:
    /* a UD QP's sends name the peer; on RC/UC the words are zero */
    wqe->wr.wr.ud.remote_qpn = (uint32_t)d[SEND_UD_QPN];
    wqe->wr.wr.ud.remote_qkey = (uint32_t)d[SEND_UD_QKEY];
    wqe->wr.wr.ud.ah_num = (uint32_t)d[SEND_UD_AH_NUM];
    break;
  }
  uint64_t total = 0;
  if (opcode == UVERBS_WR_ATOMIC_WRITE) {
    uint64_t value = d[SEND_COMPARE_ADD];
    memcpy(wqe->dma.inline_data, &value, sizeof(value)); /* dma.atomic_wr: the payload, in the requester's byte order */
    total = sizeof(value);
  } else if (opcode == UVERBS_WR_FLUSH) {
    total = flush_length; /* no SGEs: dma.length is the range flushed */
  } else if (inline_data) {
    memcpy(wqe->dma.inline_data, inl + inl_off, inl_n);
    total = inl_n;
  } else {
    total = rxe_put_sges(wqe->dma.sge, d + SEND_DESC_WORDS, (uint32_t)num_sge);
    if (total == UINT64_MAX) return 0;
    wqe->dma.num_sge = (uint32_t)num_sge;
  }
  wqe->dma.length = (uint32_t)total;
  wqe->dma.resid = (uint32_t)total;
  return used;
}

/* Free slots between our producer and the driver's consumer (one slot always stays empty). */
static inline uint32_t rxe_queue_room(const struct rxe_queue *q, uint32_t prod, uint32_t cons) {
  return (cons - prod - 1) & q->mask;
}

/*
 * Posts `count` send descriptors, all or none: each WQE is written into the
 * next free slot, then one release store of the producer index publishes
 * the batch. Slots written for a batch that then fails were never
 * published, so the driver never sees them. Returns how many were posted
 * (count or 0); *status says why none were.
 */
static inline uint32_t rxe_post_send(struct rxe_queue *q, const uint64_t *desc, size_t words, uint32_t count,
                                     const uint8_t *inl, size_t inl_len, enum rxe_post_status *status) {
  uint32_t prod = rxe_load_own(&q->buf->producer_index) & q->mask;
  uint32_t cons = rxe_load_acquire(&q->buf->consumer_index) & q->mask;
  *status = RXE_POST_OK;
  if (count > rxe_queue_room(q, prod, cons)) {
    *status = RXE_POST_FULL;
    return 0;
  }
  size_t at = 0;
  for (uint32_t n = 0; n < count; n++) {
    size_t used = rxe_fill_send(rxe_queue_slot(q, prod), q->elem_size, desc + at, words - at, inl, inl_len);
    if (used == 0) {
      *status = RXE_POST_BAD_WR;
      return 0;
    }
    at += used;
    prod = (prod + 1) & q->mask;
  }
  if (count) rxe_store_release(&q->buf->producer_index, prod);
  return count;
}

/* Receive descriptors into an RQ or SRQ ring; all or none, as rxe_post_send. No doorbell: the driver reads the ring when a message arrives. */
static inline uint32_t rxe_post_recv(struct rxe_queue *q, const uint64_t *desc, size_t words, uint32_t count,
                                     enum rxe_post_status *status) {
  uint32_t prod = rxe_load_own(&q->buf->producer_index) & q->mask;
  uint32_t cons = rxe_load_acquire(&q->buf->consumer_index) & q->mask;
  size_t room = q->elem_size - sizeof(struct rxe_recv_wqe);
  *status = RXE_POST_OK;
  if (count > rxe_queue_room(q, prod, cons)) {
    *status = RXE_POST_FULL;
    return 0;
  }
  size_t at = 0;
  for (uint32_t n = 0; n < count; n++) {
    const uint64_t *d = desc + at;
    if (words - at < RECV_DESC_WORDS) {
      *status = RXE_POST_BAD_WR;
      return 0;
    }
    /* read once: the descriptor array is JS memory, and a shared one may change under us */
    uint64_t num_sge = rxe_read_once_u64(&d[RECV_NUM_SGE]);
    if (num_sge > room / sizeof(struct rxe_sge) || (words - at - RECV_DESC_WORDS) / UVERBS_SGE_WORDS < num_sge) {
      *status = RXE_POST_BAD_WR;
      return 0;
    }
    struct rxe_recv_wqe *wqe = rxe_queue_slot(q, prod);
    memset(wqe, 0, sizeof(*wqe));
    wqe->wr_id = d[RECV_WR_ID];
    uint64_t total = rxe_put_sges(wqe->dma.sge, d + RECV_DESC_WORDS, (uint32_t)num_sge);
    if (total == UINT64_MAX) {
      *status = RXE_POST_BAD_WR;
      return 0;
    }
    wqe->dma.num_sge = (uint32_t)num_sge;
    wqe->dma.length = (uint32_t)total;
    wqe->dma.resid = (uint32_t)total;
    at += RECV_DESC_WORDS + (size_t)num_sge * UVERBS_SGE_WORDS;
    prod = (prod + 1) & q->mask;
  }
  if (count) rxe_store_release(&q->buf->producer_index, prod);
  return count;
}

/*
 * Copies up to `max` completions (struct ib_uverbs_wc, 48 bytes each) from
 * the CQ ring into `out`, then hands their slots back to the driver with
 * one release store of the consumer index. No allocation.
 */
static inline uint32_t rxe_poll_cq(struct rxe_queue *q, uint8_t *out, uint32_t max) {
  uint32_t cons = rxe_load_own(&q->buf->consumer_index) & q->mask;
  uint32_t prod = rxe_load_acquire(&q->buf->producer_index) & q->mask;
  uint32_t n = 0;
  while (n < max && cons != prod) {
    memcpy(out + (size_t)n * sizeof(struct ib_uverbs_wc), rxe_queue_slot(q, cons), sizeof(struct ib_uverbs_wc));
    cons = (cons + 1) & q->mask;
    n++;
  }
  if (n) rxe_store_release(&q->buf->consumer_index, cons);
  return n;
}

#endif
