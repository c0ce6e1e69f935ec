/*
 * The siw queue protocol, as user space sees it: no Node in here, so the
 * fuzzer drives exactly the code the addon runs.
 *
 * Facts (read, not copied):
 * - include/uapi/rdma/siw-abi.h: struct siw_sqe (120 bytes), siw_rqe
 *   (112), siw_sge, siw_cqe (32), siw_cq_ctrl; enum siw_opcode,
 *   siw_wqe_flags, siw_notify_flags, siw_wc_status.
 * - siw's rings have no header and no indices: every slot has a flags
 *   word whose SIW_WQE_VALID bit says who owns it. User space owns a
 *   work-queue slot (SQ, RQ, SRQ) while VALID is clear; it fills the slot
 *   and sets VALID last. The driver takes slots in order (siw.h
 *   sq_get_next, siw_qp_rx.c siw_rqe_get: READ_ONCE(flags) & VALID), copies
 *   the element, and hands the slot back with smp_store_mb(flags, 0)
 *   (siw_qp.c siw_activate_tx_from_sq, siw_sqe_complete, siw_rqe_complete).
 *   Each side keeps its own index privately, modulo the slot count.
 * - The CQ is the other way round (siw_qp.c siw_sqe_complete /
 *   siw_rqe_complete): the driver writes a CQE into a slot whose flags are
 *   0 and sets flags = SIW_WQE_VALID last (WRITE_ONCE); user space reads it
 *   and gives the slot back by clearing flags (libsiw's siw_poll_cq). A
 *   user CQE carries the QP number in qp_id; no immediate data, no
 *   invalidated STag (those go to kernel CQs only).
 * - The CQ mapping is num_cqe CQEs followed by struct siw_cq_ctrl
 *   (siw_verbs.c siw_create_cq: cq->notify = &queue[size]); arming is a
 *   store of SIW_NOTIFY_SOLICITED | SIW_NOTIFY_NEXT_COMPLETION (or
 *   SOLICITED alone) there; the driver reads it at each CQE
 *   (siw_cq_notify_now) and disarms it when it signals the channel.
 * - The doorbell (siw_verbs.c siw_post_send): IB_USER_VERBS_CMD_POST_SEND
 *   with no work requests; the driver then runs the SQ in the caller's
 *   context (a user-mapped SQ takes no work requests through the write).
 * - What a user SQE may be (siw_verbs.c siw_post_send's kernel mapping,
 *   siw_qp.c siw_activate_tx_from_sq, siw_qp_tx.c siw_qp_prepare_tx):
 *   SEND, SEND with invalidate (SIW_OP_SEND_REMOTE_INV, rkey = the STag to
 *   invalidate), RDMA WRITE and RDMA READ (one SGE: the driver forces
 *   num_sge to 1). Inline data only with SEND and WRITE, at most
 *   SIW_MAX_INLINE (80) bytes, placed from sge[1] on with its length in
 *   sge[0].length. A READ cannot be fenced. Immediate data, atomics,
 *   memory windows, local invalidate and FLUSH have no user SQE (libsiw
 *   maps them to "unsupported"; the atomics and SEND_WITH_IMM opcodes of
 *   enum siw_opcode are not transmitted by siw_qp_prepare_tx).
 *
 * The geometry (slot count from the create response, element size from
 * the header) is checked against the mapping's length once and kept here:
 * nothing read later from shared memory can move an access outside it.
 */

#ifndef UVERBS_SIW_QUEUE_H
#define UVERBS_SIW_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rdma/ib_user_verbs.h>
#include <rdma/siw-abi.h>

#include "rxe_queue.h" /* the work request descriptors (enum uverbs_send_desc, uverbs_recv_desc) */

/* enum ib_send_flags (include/rdma/ib_verbs.h, kernel-internal; the same bits as ibv_send_flags). */
#define UVERBS_SEND_FENCE 1
#define UVERBS_SEND_SIGNALED 2
#define UVERBS_SEND_SOLICITED 4
#define UVERBS_SEND_INLINE 8

/* enum ib_wc_status values a siw status maps to (include/rdma/ib_verbs.h). */
#define UVERBS_WC_SUCCESS 0
#define UVERBS_WC_LOC_LEN_ERR 1
#define UVERBS_WC_LOC_QP_OP_ERR 2
#define UVERBS_WC_LOC_PROT_ERR 4
#define UVERBS_WC_WR_FLUSH_ERR 5
#define UVERBS_WC_BAD_RESP_ERR 7
#define UVERBS_WC_LOC_ACCESS_ERR 8
#define UVERBS_WC_REM_INV_REQ_ERR 9
#define UVERBS_WC_REM_ACCESS_ERR 10
#define UVERBS_WC_GENERAL_ERR 21
/* enum ib_wc_opcode: REG_MR 10 and RECV 1 << 7 are kernel-internal; the rest is enum ib_uverbs_wc_opcode. */
#define UVERBS_WC_REG_MR 10
#define UVERBS_WC_RECV 128

/* The barriers the protocol names, paired with the driver's. */

/* A slot's owner bit: pairs with the driver's smp_store_mb(flags, 0) that hands a work-queue slot back. */
static inline uint16_t siw_load_flags_acquire(const uint16_t *flags) {
  return __atomic_load_n(flags, __ATOMIC_ACQUIRE);
}

/* Publishes a filled work-queue slot: every store to it before this one; pairs with the driver's READ_ONCE + copy. */
static inline void siw_store_flags_release(uint16_t *flags, uint16_t value) {
  __atomic_store_n(flags, value, __ATOMIC_RELEASE);
}

/* A CQE's VALID bit: pairs with the driver's WRITE_ONCE(cqe->flags, VALID) after the CQE's other fields. */
static inline uint8_t siw_load_cqe_acquire(const uint8_t *flags) {
  return __atomic_load_n(flags, __ATOMIC_ACQUIRE);
}

/* Gives a CQE back once it is read (flags = 0): no read of it may move after the store. */
static inline void siw_store_cqe_release(uint8_t *flags, uint8_t value) {
  __atomic_store_n(flags, value, __ATOMIC_RELEASE);
}

/*
 * Arms the CQ: a full barrier, so the poll that follows the arm (a CQE that
 * landed just before it would otherwise never be signalled) cannot read
 * the ring before the driver can see the arm. The kernel arms with
 * smp_store_mb for the same reason (siw_req_notify_cq).
 */
static inline void siw_store_notify_mb(uint32_t *flags, uint32_t value) {
  __atomic_store_n(flags, value, __ATOMIC_SEQ_CST);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

struct siw_queue {
  uint8_t *base;
  size_t length;     /* bytes mapped */
  uint32_t slots;    /* from the create response, as validated at attach */
  uint32_t elem;     /* sizeof the element */
  uint32_t next;     /* ours: the next slot to fill (SQ, RQ, SRQ) or to read (CQ); always < slots */
  uint32_t *notify;  /* CQ: siw_cq_ctrl.flags after the last CQE; NULL otherwise */
};

enum siw_ring { SIW_RING_CQ, SIW_RING_SQ, SIW_RING_RQ };

/*
 * Checks a mapped ring of `slots` elements (plus siw_cq_ctrl for a CQ)
 * against its length. Returns 0, or -1 when they cannot describe it.
 */
static inline int siw_queue_attach(struct siw_queue *q, void *base, size_t length, enum siw_ring kind,
                                   uint32_t slots) {
  uint32_t elem = kind == SIW_RING_CQ   ? sizeof(struct siw_cqe)
                  : kind == SIW_RING_SQ ? sizeof(struct siw_sqe)
                                        : sizeof(struct siw_rqe);
  uint64_t need = (uint64_t)slots * elem + (kind == SIW_RING_CQ ? sizeof(struct siw_cq_ctrl) : 0);
  if (base == NULL || slots == 0 || slots > (UINT32_C(1) << 24) || need > length) return -1;
  q->base = base;
  q->length = length;
  q->slots = slots;
  q->elem = elem;
  q->next = 0;
  q->notify = kind == SIW_RING_CQ ? &((struct siw_cq_ctrl *)(q->base + (size_t)slots * elem))->flags : NULL;
  return 0;
}

static inline void *siw_queue_slot(const struct siw_queue *q, uint32_t index) {
  return q->base + (size_t)(index % q->slots) * q->elem;
}

/* Why a post stopped: the same codes as rxe's (enum rxe_post_status), so JS reads both alike. */
enum siw_post_status {
  SIW_POST_OK = RXE_POST_OK,
  SIW_POST_FULL = RXE_POST_FULL,     /* fewer free slots than work requests */
  SIW_POST_BAD_WR = RXE_POST_BAD_WR, /* a descriptor that does not fit a slot or the words given */
  SIW_POST_UNSUPPORTED,              /* an opcode or flag siw has no user SQE for */
};

/*
 * Checks one send descriptor and, when `sqe` is not NULL, fills the SQE
 * from it, all but flags. Returns the words it used, or 0 with *status set.
 * Every word that sizes a copy is read once.
 */
static inline size_t siw_fill_send(struct siw_sqe *sqe, uint16_t *flags_out, const uint64_t *d, size_t words,
                                   const uint8_t *inl, size_t inl_len, enum siw_post_status *status) {
  *status = SIW_POST_BAD_WR;
  if (words < SEND_DESC_WORDS) return 0;
  uint64_t num_sge = rxe_read_once_u64(&d[SEND_NUM_SGE]);
  if (num_sge > SIW_MAX_SGE || (words - SEND_DESC_WORDS) / UVERBS_SGE_WORDS < num_sge) return 0;
  size_t used = SEND_DESC_WORDS + (size_t)num_sge * UVERBS_SGE_WORDS;
  uint32_t opcode = (uint32_t)d[SEND_OPCODE];
  uint64_t send_flags = d[SEND_FLAGS];
  int inline_data = rxe_read_once_u64(&d[SEND_INLINE]) != 0;
  uint64_t inl_off = rxe_read_once_u64(&d[SEND_INLINE_OFFSET]), inl_n = rxe_read_once_u64(&d[SEND_INLINE_LENGTH]);
  uint8_t siw_opcode;
  switch (opcode) {
  case IB_UVERBS_WR_SEND: siw_opcode = SIW_OP_SEND; break;
  case IB_UVERBS_WR_SEND_WITH_INV: siw_opcode = SIW_OP_SEND_REMOTE_INV; break;
  case IB_UVERBS_WR_RDMA_WRITE: siw_opcode = SIW_OP_WRITE; break;
  case IB_UVERBS_WR_RDMA_READ: siw_opcode = SIW_OP_READ; break;
  default: *status = SIW_POST_UNSUPPORTED; return 0;
  }
  if (send_flags & ~(uint64_t)(UVERBS_SEND_FENCE | UVERBS_SEND_SIGNALED | UVERBS_SEND_SOLICITED | UVERBS_SEND_INLINE)) {
    *status = SIW_POST_UNSUPPORTED;
    return 0;
  }
  if (inline_data != ((send_flags & UVERBS_SEND_INLINE) != 0)) return 0;
  if (inline_data) {
    if (siw_opcode != SIW_OP_SEND && siw_opcode != SIW_OP_WRITE) {
      *status = SIW_POST_UNSUPPORTED;
      return 0;
    }
    if (inl_n > SIW_MAX_INLINE || inl_off > inl_len || inl_n > inl_len - inl_off) return 0;
  }
  if (siw_opcode == SIW_OP_READ) {
    if (num_sge != 1) return 0;
    if (send_flags & UVERBS_SEND_FENCE) {
      *status = SIW_POST_UNSUPPORTED;
      return 0;
    }
  }
  uint64_t total = 0;
  for (uint64_t i = 0; i < num_sge; i++) total += (uint32_t)d[SEND_DESC_WORDS + 2 * i + 1];
  if (total > RXE_MAX_MESSAGE) return 0;

  uint16_t flags = SIW_WQE_VALID;
  if (send_flags & UVERBS_SEND_SIGNALED) flags |= SIW_WQE_SIGNALLED;
  if (send_flags & UVERBS_SEND_SOLICITED) flags |= SIW_WQE_SOLICITED;
  if (send_flags & UVERBS_SEND_FENCE) flags |= SIW_WQE_READ_FENCE;
  if (inline_data) flags |= SIW_WQE_INLINE;
  *flags_out = flags;
  *status = SIW_POST_OK;
  if (sqe == NULL) return used;

  /* flags stay 0 (the slot free, as the driver reads it) until the caller publishes it */
  memset(sqe, 0, sizeof(*sqe));
  sqe->id = d[SEND_WR_ID];
  sqe->opcode = siw_opcode;
  switch (siw_opcode) {
  case SIW_OP_SEND_REMOTE_INV: sqe->rkey = (uint32_t)d[SEND_INVALIDATE_RKEY]; break;
  case SIW_OP_WRITE:
  case SIW_OP_READ:
    sqe->raddr = d[SEND_REMOTE_ADDR];
    sqe->rkey = (uint32_t)d[SEND_RKEY];
    break;
  default: break;
  }
  if (inline_data) {
    /* the payload from sge[1] on, its length in sge[0] (siw_activate_tx_from_sq points sge[0] at it) */
    if (inl_n > 0) memcpy(&sqe->sge[1], inl + inl_off, inl_n); /* no memcpy from a NULL inline buffer, even of 0 bytes */
    sqe->sge[0].length = (uint32_t)inl_n;
    sqe->num_sge = 1;
  } else {
    for (uint32_t i = 0; i < (uint32_t)num_sge; i++) {
      uint64_t len_key = d[SEND_DESC_WORDS + 2 * i + 1];
      sqe->sge[i].laddr = d[SEND_DESC_WORDS + 2 * i];
      sqe->sge[i].length = (uint32_t)len_key;
      sqe->sge[i].lkey = (uint32_t)(len_key >> 32);
    }
    sqe->num_sge = (uint8_t)num_sge;
  }
  return used;
}

/* Whether `count` slots from q->next are all free (VALID clear), read with acquire. */
static inline int siw_queue_has_room(const struct siw_queue *q, uint32_t count) {
  if (count > q->slots) return 0;
  for (uint32_t n = 0; n < count; n++) {
    const uint16_t *flags = (const uint16_t *)((const uint8_t *)siw_queue_slot(q, q->next + n) + 8);
    if (siw_load_flags_acquire(flags) & SIW_WQE_VALID) return 0;
  }
  return 1;
}

/*
 * Posts `count` send descriptors, all or none: room for all of them and
 * every descriptor are checked before any slot is written; then each SQE
 * is filled and published by a release store of its flags (VALID last).
 * Returns how many were posted (count or 0); *status says why none were.
 * A descriptor that fails the second pass (only if another thread rewrote
 * the descriptors between the passes) stops the post there.
 */
static inline uint32_t siw_post_send(struct siw_queue *q, const uint64_t *desc, size_t words, uint32_t count,
                                     const uint8_t *inl, size_t inl_len, enum siw_post_status *status) {
  *status = SIW_POST_OK;
  if (!siw_queue_has_room(q, count)) {
    *status = SIW_POST_FULL;
    return 0;
  }
  size_t at = 0;
  uint16_t flags;
  for (uint32_t n = 0; n < count; n++) {
    size_t used = siw_fill_send(NULL, &flags, desc + at, words - at, inl, inl_len, status);
    if (used == 0) return 0;
    at += used;
  }
  at = 0;
  for (uint32_t n = 0; n < count; n++) {
    struct siw_sqe *sqe = siw_queue_slot(q, q->next);
    size_t used = siw_fill_send(sqe, &flags, desc + at, words - at, inl, inl_len, status);
    if (used == 0) return n;
    siw_store_flags_release(&sqe->flags, flags);
    at += used;
    q->next = (q->next + 1) % q->slots;
  }
  return count;
}

/* Checks one receive descriptor and, when `rqe` is not NULL, fills it (all but flags); returns the words it used, or 0. */
static inline size_t siw_fill_recv(struct siw_rqe *rqe, const uint64_t *d, size_t words) {
  if (words < RECV_DESC_WORDS) return 0;
  uint64_t num_sge = rxe_read_once_u64(&d[RECV_NUM_SGE]);
  if (num_sge > SIW_MAX_SGE || (words - RECV_DESC_WORDS) / UVERBS_SGE_WORDS < num_sge) return 0;
  uint64_t total = 0;
  for (uint64_t i = 0; i < num_sge; i++) total += (uint32_t)d[RECV_DESC_WORDS + 2 * i + 1];
  if (total > RXE_MAX_MESSAGE) return 0;
  if (rqe != NULL) {
    memset(rqe, 0, sizeof(*rqe));
    rqe->id = d[RECV_WR_ID];
    for (uint32_t i = 0; i < (uint32_t)num_sge; i++) {
      uint64_t len_key = d[RECV_DESC_WORDS + 2 * i + 1];
      rqe->sge[i].laddr = d[RECV_DESC_WORDS + 2 * i];
      rqe->sge[i].length = (uint32_t)len_key;
      rqe->sge[i].lkey = (uint32_t)(len_key >> 32);
    }
    rqe->num_sge = (uint8_t)num_sge;
  }
  return RECV_DESC_WORDS + (size_t)num_sge * UVERBS_SGE_WORDS;
}

/* Receive descriptors into an RQ or SRQ ring; all or none, as siw_post_send. No doorbell: the driver reads the ring when a message arrives. */
static inline uint32_t siw_post_recv(struct siw_queue *q, const uint64_t *desc, size_t words, uint32_t count,
                                     enum siw_post_status *status) {
  *status = SIW_POST_OK;
  if (!siw_queue_has_room(q, count)) {
    *status = SIW_POST_FULL;
    return 0;
  }
  size_t at = 0;
  for (uint32_t n = 0; n < count; n++) {
    size_t used = siw_fill_recv(NULL, desc + at, words - at);
    if (used == 0) {
      *status = SIW_POST_BAD_WR;
      return 0;
    }
    at += used;
  }
  at = 0;
  for (uint32_t n = 0; n < count; n++) {
    struct siw_rqe *rqe = siw_queue_slot(q, q->next);
    size_t used = siw_fill_recv(rqe, desc + at, words - at);
    if (used == 0) {
      *status = SIW_POST_BAD_WR;
      return n;
    }
    siw_store_flags_release(&rqe->flags, SIW_WQE_VALID);
    at += used;
    q->next = (q->next + 1) % q->slots;
  }
  return count;
}

/* enum siw_opcode -> ib_uverbs_wc.opcode (libsiw's map_cqe_opcode, plus the kernel-only two). */
static inline uint32_t siw_wc_opcode(uint8_t op) {
  switch (op) {
  case SIW_OP_WRITE: return IB_UVERBS_WC_RDMA_WRITE;
  case SIW_OP_READ:
  case SIW_OP_READ_LOCAL_INV: return IB_UVERBS_WC_RDMA_READ;
  case SIW_OP_SEND:
  case SIW_OP_SEND_WITH_IMM:
  case SIW_OP_SEND_REMOTE_INV: return IB_UVERBS_WC_SEND;
  case SIW_OP_FETCH_AND_ADD: return IB_UVERBS_WC_FETCH_ADD;
  case SIW_OP_COMP_AND_SWAP: return IB_UVERBS_WC_COMP_SWAP;
  case SIW_OP_RECEIVE: return UVERBS_WC_RECV;
  case SIW_OP_INVAL_STAG: return IB_UVERBS_WC_LOCAL_INV;
  case SIW_OP_REG_MR: return UVERBS_WC_REG_MR;
  default: return IB_UVERBS_WC_SEND; /* never written to a CQ; the status says the completion is bad */
  }
}

/* enum siw_wc_status -> enum ib_wc_status (libsiw's map_cqe_status); a status siw does not define is GENERAL_ERR. */
static inline uint32_t siw_wc_status(uint16_t status) {
  switch (status) {
  case SIW_WC_SUCCESS: return UVERBS_WC_SUCCESS;
  case SIW_WC_LOC_LEN_ERR: return UVERBS_WC_LOC_LEN_ERR;
  case SIW_WC_LOC_PROT_ERR: return UVERBS_WC_LOC_PROT_ERR;
  case SIW_WC_LOC_QP_OP_ERR: return UVERBS_WC_LOC_QP_OP_ERR;
  case SIW_WC_WR_FLUSH_ERR: return UVERBS_WC_WR_FLUSH_ERR;
  case SIW_WC_BAD_RESP_ERR: return UVERBS_WC_BAD_RESP_ERR;
  case SIW_WC_LOC_ACCESS_ERR: return UVERBS_WC_LOC_ACCESS_ERR;
  case SIW_WC_REM_ACCESS_ERR: return UVERBS_WC_REM_ACCESS_ERR;
  case SIW_WC_REM_INV_REQ_ERR: return UVERBS_WC_REM_INV_REQ_ERR;
  default: return UVERBS_WC_GENERAL_ERR;
  }
}

/*
 * Copies up to `max` completions from the CQ ring into `out` as struct
 * ib_uverbs_wc (48 bytes each), giving each CQE's slot back (flags = 0,
 * release) after reading it. A status siw does not define keeps its raw
 * value in vendor_err. No allocation.
 */
static inline uint32_t siw_poll_cq(struct siw_queue *q, uint8_t *out, uint32_t max) {
  uint32_t n = 0;
  while (n < max) {
    struct siw_cqe *cqe = siw_queue_slot(q, q->next);
    if (!(siw_load_cqe_acquire(&cqe->flags) & SIW_WQE_VALID)) break;
    struct ib_uverbs_wc wc;
    memset(&wc, 0, sizeof(wc));
    wc.wr_id = cqe->id;
    uint16_t status = cqe->status;
    wc.status = siw_wc_status(status);
    if (status >= SIW_NUM_WC_STATUS) wc.vendor_err = status;
    wc.opcode = siw_wc_opcode(cqe->opcode);
    wc.byte_len = cqe->bytes;
    wc.qp_num = (uint32_t)cqe->qp_id;
    memcpy(out + (size_t)n * sizeof(wc), &wc, sizeof(wc));
    siw_store_cqe_release(&cqe->flags, 0);
    q->next = (q->next + 1) % q->slots;
    n++;
  }
  return n;
}

/* Arms the CQ for the next completion (or the next solicited one only). No syscall. */
static inline void siw_arm_cq(struct siw_queue *q, int solicited_only) {
  siw_store_notify_mb(q->notify, solicited_only ? SIW_NOTIFY_SOLICITED
                                                : SIW_NOTIFY_SOLICITED | SIW_NOTIFY_NEXT_COMPLETION);
}

#endif
