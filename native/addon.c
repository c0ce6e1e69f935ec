/*
 * uverbs' native addon: the only C in the library, and only what needs it.
 * Everything else (commands, objects, errors) is TypeScript.
 *
 * - Every mapping JS can see is made here: driver rings (from the uverbs fd
 *   at the offset the driver replied with) and the anonymous memory behind
 *   MRs and command buffers. JS holds an opaque, type-tagged handle and an
 *   external ArrayBuffer over the mapping. Unmapping detaches that buffer
 *   and replaces the memory under any buffer that escaped the detach; the
 *   address range goes back to the kernel only after the last buffer over
 *   it is collected (see "mappings"). No number from JS is ever turned into
 *   a pointer: the only addresses here are ones mmap returned.
 * - post send / post recv / poll take batches of u64 descriptors or a
 *   completion buffer in memory JS owns: one crossing per batch, no JS
 *   object read or made on the way (rxe_queue.h).
 * - The rxe doorbell is the POST_SEND write with wr_count 0: the driver
 *   then runs the send queue in this process's context. siw's is the same
 *   write (siw_queue.h); its rings are slots with VALID flags, no indices.
 * - A completion channel or async event fd is watched with a libuv poll
 *   handle on a duplicate of the fd: JS awaits readability, nothing spins,
 *   and the end of the environment (a Worker terminated) closes the handle.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "rxe_queue.h"
#include "siw_queue.h"

#define CHECK(env, call)                                                                                              \
  do {                                                                                                                \
    if ((call) != napi_ok) return throw_last(env);                                                                    \
  } while (0)

static napi_value throw_last(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending)
    napi_throw_error(env, "ERR_UVERBS_NATIVE", info && info->error_message ? info->error_message : "N-API call failed");
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

/* Throws an Error { code: 'ERR_UVERBS_SYSCALL', syscall, errno } (errno positive); JS makes it a UverbsError. */
static napi_value throw_errno(napi_env env, const char *syscall, int errno_value) {
  napi_value error, code, message, number, name;
  CHECK(env, napi_create_string_utf8(env, "ERR_UVERBS_SYSCALL", NAPI_AUTO_LENGTH, &code));
  CHECK(env, napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_string_utf8(env, "system call failed", NAPI_AUTO_LENGTH, &message));
  CHECK(env, napi_create_error(env, code, message, &error));
  CHECK(env, napi_create_int32(env, errno_value, &number));
  CHECK(env, napi_set_named_property(env, error, "errno", number));
  CHECK(env, napi_set_named_property(env, error, "syscall", name));
  napi_throw(env, error);
  return NULL;
}

/* ---- mappings: every byte JS sees that is not its own -------------------- */

enum ring_kind {
  RING_RAW = 0,
  RING_RXE_CQ = 1,
  RING_RXE_SQ = 2,
  RING_RXE_RQ = 3,
  RING_SIW_CQ = 4,
  RING_SIW_SQ = 5,
  RING_SIW_RQ = 6, /* an RQ or an SRQ */
};

static int is_siw(int kind) { return kind >= RING_SIW_CQ && kind <= RING_SIW_RQ; }

/*
 * One mapping (a driver ring, or anonymous memory for MRs and command
 * buffers) and the JS objects over it: one type-tagged handle and the
 * external ArrayBuffer handed out with it.
 *
 * No JS view may outlive the memory it shows, and detaching cannot reach
 * every view: `ArrayBuffer.prototype.transfer()` (and a transferring
 * structuredClone) moves the memory into a new ArrayBuffer this addon has
 * never seen. So release has two steps:
 *
 * 1. `unmap` detaches the ArrayBuffer it handed out (every view over it
 *    reads as length 0), then maps fresh anonymous memory over the range
 *    with MAP_FIXED. That drops the kernel's mapping at once (the ring, its
 *    reference on the uverbs file, the MR's pages) but keeps the range
 *    reserved: a buffer that escaped the detach reads zeros and its writes
 *    land in pages nobody else sees.
 * 2. The range is returned to the kernel (munmap) only when nothing can
 *    point into it: the handle and every ArrayBuffer sharing the backing
 *    store have been collected (V8 frees a backing store, and so calls its
 *    finalizer, only after the last ArrayBuffer over it, transferred ones
 *    included, is gone). Until then no later mmap can be placed there.
 *    One exception: when the environment that made the buffer ends (a
 *    Worker terminated), Node calls the finalizer at once, though a buffer
 *    transferred to another thread may still use the memory; a mapping
 *    alive at that point is therefore never unmapped (mapping_env_ending).
 */
struct mapping {
  void *addr;
  size_t length;
  int kind;
  int refs;        /* the handle, the ArrayBuffer object, the ArrayBuffer's backing store */
  int released;    /* unmap ran: the range holds anonymous filler, reserved until refs == 0 */
  int ending;      /* its environment is ending: a finalizer call no longer means "collected" */
  int hooked;      /* mapping_env_ending is registered with env */
  napi_env env;
  napi_ref buffer; /* weak: the ArrayBuffer to detach at unmap */
  napi_ref keep;   /* strong on the handle until the backing store is gone (see mapping_wrap) */
  struct rxe_queue q;
  struct siw_queue s; /* a siw ring: its geometry and our index into it */
};

/*
 * Runs as the environment ends, before Node's own cleanup of this mapping's
 * ArrayBuffer (cleanup hooks run newest first, and this one is added right
 * after the buffer is made). Node then calls the buffer's finalizer even if
 * a transfer()ed buffer in another thread still shows the memory; from here
 * on the range is left mapped rather than risk that.
 */
static void mapping_env_ending(void *data) {
  struct mapping *m = data;
  m->hooked = 0;
  m->ending = 1;
}

static const napi_type_tag MAPPING_TAG = {0x7576657262735f72ULL, 0x696e675f68616e64ULL}; /* "uverbs_ring_hand" */
static const napi_type_tag WATCH_TAG = {0x7576657262735f77ULL, 0x617463685f68616eULL};   /* "uverbs_watch_han" */

/* The last reference gone: nothing in JS can reach the range any more (unless its environment is ending). */
static void mapping_unref(struct mapping *m) {
  if (--m->refs > 0) return;
  if (m->hooked) napi_remove_env_cleanup_hook(m->env, mapping_env_ending, m);
  if (!m->ending) munmap(m->addr, m->length);
  free(m);
}

static void mapping_finalize_handle(napi_env env, void *data, void *hint) {
  (void)hint;
  struct mapping *m = data;
  if (m->buffer != NULL) napi_delete_reference(env, m->buffer);
  m->buffer = NULL;
  mapping_unref(m);
}

/* The backing store is gone: every ArrayBuffer that showed the memory, transferred ones included. */
static void mapping_finalize_buffer(napi_env env, void *data, void *hint) {
  (void)data;
  struct mapping *m = hint;
  if (m->keep != NULL) napi_delete_reference(env, m->keep);
  m->keep = NULL;
  mapping_unref(m);
}

/* The ArrayBuffer object is gone (detached or not): nothing, not even a pending fs operation, holds it. */
static void mapping_finalize_object(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mapping_unref(data);
}

/*
 * Step 1 of the release: the kernel's mapping replaced by zeroed private
 * memory in one mmap, the range kept. If that mmap fails (ENOMEM), the old
 * mapping stays, still ours, until the last reference goes.
 */
static void mapping_replace(struct mapping *m) {
  void *filler = mmap(m->addr, m->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                      -1, 0);
  (void)filler; /* MAP_FIXED: either the same address or MAP_FAILED, with the old mapping intact */
  m->released = 1;
}

static uint32_t min_element(int kind) {
  switch (kind) {
  case RING_RXE_CQ: return sizeof(struct ib_uverbs_wc);
  case RING_RXE_SQ: return sizeof(struct rxe_send_wqe);
  case RING_RXE_RQ: return sizeof(struct rxe_recv_wqe);
  default: return 0;
  }
}

/* Wraps a fresh mapping as [handle, ArrayBuffer, address]; on failure unmaps it. `slots`: a siw ring's slot count. */
static napi_value mapping_wrap(napi_env env, void *addr, size_t length, int kind, uint32_t slots) {
  struct mapping *m = calloc(1, sizeof(*m));
  if (m == NULL) {
    munmap(addr, length);
    return throw_errno(env, "malloc", ENOMEM);
  }
  m->addr = addr;
  m->length = length;
  m->kind = kind;
  m->refs = 1;
  if (is_siw(kind) ? siw_queue_attach(&m->s, addr, length, (enum siw_ring)(kind - RING_SIW_CQ), slots) != 0
                   : kind != RING_RAW && rxe_queue_attach(&m->q, addr, length, min_element(kind)) != 0) {
    mapping_unref(m);
    napi_throw_error(env, "ERR_UVERBS_RING", "the ring's header does not describe its mapping");
    return NULL;
  }
  napi_value handle, buffer, address, result;
  if (napi_create_external(env, m, mapping_finalize_handle, NULL, &handle) != napi_ok) {
    mapping_unref(m);
    return throw_last(env);
  }
  CHECK(env, napi_type_tag_object(env, handle, &MAPPING_TAG));
  m->refs++;
  if (napi_create_external_arraybuffer(env, addr, length, mapping_finalize_buffer, m, &buffer) != napi_ok) {
    m->refs--;
    return throw_last(env);
  }
  m->env = env;
  if (napi_add_env_cleanup_hook(env, mapping_env_ending, m) == napi_ok) m->hooked = 1;
  else m->ending = 1; /* cannot tell an ending environment from a collection: never unmap */
  /*
   * Two more holds, so the range is unmapped only from a finalizer that
   * runs after mapping_env_ending at an environment's end:
   * - the handle stays alive until the backing store is gone (Node may
   *   call the backing store's finalizer first thing at an environment's
   *   end, and it must never be the last reference);
   * - the ArrayBuffer object itself counts: a detached buffer's backing
   *   store is freed at once, but an operation in flight (fs.read into its
   *   view, on the threadpool) holds the object and its raw pointer, and
   *   must land in the filler, never in whatever is mapped there next.
   */
  CHECK(env, napi_create_reference(env, handle, 1, &m->keep));
  m->refs++;
  if (napi_add_finalizer(env, buffer, m, mapping_finalize_object, NULL, NULL) != napi_ok) m->refs--;
  CHECK(env, napi_create_reference(env, buffer, 0, &m->buffer));
  CHECK(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)addr, &address));
  CHECK(env, napi_create_array_with_length(env, 3, &result));
  CHECK(env, napi_set_element(env, result, 0, handle));
  CHECK(env, napi_set_element(env, result, 1, buffer));
  CHECK(env, napi_set_element(env, result, 2, address));
  return result;
}

/*
 * What a handle this addon made points at; NULL, with `message` as a
 * TypeError, for anything else (a number, another addon's external, one of
 * ours with another tag).
 */
static void *unwrap(napi_env env, napi_value value, const napi_type_tag *tag, const char *message) {
  bool tagged = false;
  napi_valuetype type;
  void *data = NULL;
  if (value == NULL || napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok) {
    throw_type(env, message);
    return NULL;
  }
  return data;
}

#define MAPPING_HANDLE "The \"ring\" argument must be a mapping handle"

/* The ring behind a handle JS passed back; NULL (with a TypeError) for anything else, or a typed error once released. */
static struct mapping *ring_from(napi_env env, napi_value value, int kind) {
  struct mapping *m = unwrap(env, value, &MAPPING_TAG, MAPPING_HANDLE);
  if (m == NULL) return NULL;
  if (m->released) {
    napi_throw_error(env, "ERR_UVERBS_CLOSED", "the ring is unmapped");
    return NULL;
  }
  if (m->kind != kind) {
    throw_type(env, "The \"ring\" argument is a ring of another kind");
    return NULL;
  }
  return m;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_number && napi_get_value_int32(env, v, out) == napi_ok;
}

/*
 * mapRing(fd, offset: bigint, length, kind, slots?) -> [handle, ArrayBuffer, address];
 * throws { errno } if mmap fails. `slots`: a siw ring's slot count (its create response's).
 */
static napi_value map_ring(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, length, kind, slots = 0;
  uint64_t offset;
  bool lossless;
  if (argc < 4 || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[2], &length) || !get_i32(env, argv[3], &kind) ||
      napi_get_value_bigint_uint64(env, argv[1], &offset, &lossless) != napi_ok || !lossless || length <= 0 ||
      kind < RING_RAW || kind > RING_SIW_RQ || (is_siw(kind) && (argc < 5 || !get_i32(env, argv[4], &slots) || slots <= 0)))
    return throw_type(env, "mapRing(fd, offset: bigint, length, kind, slots: a siw ring's slot count)");
  /* a driver's ring comes from a character device; a file could shrink under the mapping (SIGBUS on access) */
  struct stat st;
  if (fstat(fd, &st) != 0) return throw_errno(env, "fstat", errno);
  if (!S_ISCHR(st.st_mode)) return throw_errno(env, "mmap", ENODEV);
  void *addr = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  return mapping_wrap(env, addr, (size_t)length, kind, (uint32_t)slots);
}

/*
 * mapAnonymous(length) -> [handle, ArrayBuffer, address]: page-aligned,
 * zero-filled private memory (MRs, command buffers, event descriptors).
 * `length` is a positive multiple of the page size, at most 2^53 - 1.
 */
static napi_value map_anonymous(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  double length = 0;
  long page = sysconf(_SC_PAGESIZE);
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, argv[0], &length) != napi_ok || !(length > 0) || length > 9007199254740991.0 ||
      length != (double)(size_t)length || (size_t)length % (size_t)page != 0)
    return throw_type(env, "mapAnonymous(length: a positive multiple of the page size)");
  void *addr = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  return mapping_wrap(env, addr, (size_t)length, RING_RAW, 0);
}

/*
 * allocRing(slots, log2ElemSize, kind) -> [handle, ArrayBuffer, address]:
 * an rxe ring in anonymous memory, header filled as the driver would. For
 * tests and benchmarks that play the driver's side on a host without RDMA.
 */
static napi_value alloc_ring(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t slots, log2_elem, kind;
  if (argc < 3 || !get_i32(env, argv[0], &slots) || !get_i32(env, argv[1], &log2_elem) ||
      !get_i32(env, argv[2], &kind) || slots < 2 || slots > (1 << 20) || (slots & (slots - 1)) != 0 ||
      log2_elem < 4 || log2_elem > 12 || kind < RING_RXE_CQ || kind > RING_RXE_RQ)
    return throw_type(env, "allocRing(slots: power of two, log2ElemSize: 4..12, kind: an rxe ring kind)");
  size_t length = sizeof(struct rxe_queue_buf) + ((size_t)slots << log2_elem);
  void *addr = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  struct rxe_queue_buf *buf = addr;
  buf->log2_elem_size = (uint32_t)log2_elem;
  buf->index_mask = (uint32_t)slots - 1;
  return mapping_wrap(env, addr, length, kind, 0);
}

/*
 * allocSiwRing(slots, kind) -> [handle, ArrayBuffer, address]: a siw ring
 * of `slots` elements (a CQ's with its siw_cq_ctrl) in zeroed anonymous
 * memory, for tests that play the driver's side on a host without RDMA.
 */
static napi_value alloc_siw_ring(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t slots, kind;
  if (argc < 2 || !get_i32(env, argv[0], &slots) || !get_i32(env, argv[1], &kind) || slots < 1 ||
      slots > (1 << 20) || !is_siw(kind))
    return throw_type(env, "allocSiwRing(slots: 1..2^20, kind: a siw ring kind)");
  size_t elem = kind == RING_SIW_CQ ? sizeof(struct siw_cqe)
                : kind == RING_SIW_SQ ? sizeof(struct siw_sqe)
                                      : sizeof(struct siw_rqe);
  size_t length = (size_t)slots * elem + (kind == RING_SIW_CQ ? sizeof(struct siw_cq_ctrl) : 0);
  long page = sysconf(_SC_PAGESIZE);
  length = (length + (size_t)page - 1) / (size_t)page * (size_t)page;
  void *addr = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  return mapping_wrap(env, addr, length, kind, (uint32_t)slots);
}

/*
 * unmap(handle): detaches the ArrayBuffer, then replaces the memory under
 * any view that escaped the detach (mapping_replace). Idempotent.
 */
static napi_value unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct mapping *m = unwrap(env, argc < 1 ? NULL : argv[0], &MAPPING_TAG, MAPPING_HANDLE);
  if (m == NULL || m->released) return NULL;
  if (m->buffer != NULL) {
    napi_value buffer = NULL;
    bool detached = false;
    if (napi_get_reference_value(env, m->buffer, &buffer) == napi_ok && buffer != NULL &&
        napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && !detached)
      CHECK(env, napi_detach_arraybuffer(env, buffer));
  }
  mapping_replace(m);
  return NULL;
}

/* A typed array argument's bytes, checked for its element type. */
static int typed_bytes(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) != napi_ok || type != want) return 0;
  return 1;
}

/*
 * The doorbell: IB_USER_VERBS_CMD_POST_SEND with wr_count 0 tells rxe to
 * run the send queue. wqe_size must be at least sizeof(struct
 * ib_uverbs_send_wr) (uverbs_cmd.c rejects less); the response (bad_wr) is
 * written, so it gets real memory. Returns 0 or -errno.
 */
#define DOORBELL_RETRIES 3
static int doorbell(int fd, uint32_t qp_handle) {
  struct {
    struct ib_uverbs_cmd_hdr hdr;
    struct ib_uverbs_post_send cmd;
  } req;
  struct ib_uverbs_post_send_resp resp = {0};
  memset(&req, 0, sizeof(req));
  req.hdr.command = IB_USER_VERBS_CMD_POST_SEND;
  req.hdr.in_words = sizeof(req) / 4;
  req.hdr.out_words = sizeof(resp) / 4;
  req.cmd.response = (uint64_t)(uintptr_t)&resp;
  req.cmd.qp_handle = qp_handle;
  req.cmd.wqe_size = sizeof(struct ib_uverbs_send_wr);
  /* EINTR: a signal came first, ring again; EAGAIN: a few more times, then say so */
  for (int again = 0;; again++) {
    ssize_t n = write(fd, &req, sizeof(req));
    if (n >= 0) return 0;
    if (errno == EINTR || (errno == EAGAIN && again < DOORBELL_RETRIES)) continue;
    return -errno;
  }
}

/*
 * postSend(sq, desc: BigUint64Array, count, inline: Uint8Array | null, fd, qpHandle)
 * -> posted (all or none, bits 0-15) + status << 16 (rxe_post_status, bits
 * 16-23) + the doorbell's errno << 24 (0: rung): a u32. A failed doorbell
 * still reports what was posted: the WQEs are in the ring and the next
 * doorbell runs them. fd < 0 rings no doorbell (a ring with no driver behind it).
 */
static napi_value post_send(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_type(env, "postSend(sq, desc, count, inline, fd, qpHandle)");
  struct mapping *r = ring_from(env, argv[0], RING_RXE_SQ);
  if (r == NULL) return NULL;
  uint64_t *desc;
  size_t words, inl_len = 0;
  uint8_t *inl = NULL;
  int32_t count, fd, qp;
  if (!typed_bytes(env, argv[1], napi_biguint64_array, (void **)&desc, &words) || !get_i32(env, argv[2], &count) ||
      count < 0 || count > 0xffff || !get_i32(env, argv[4], &fd) || !get_i32(env, argv[5], &qp))
    return throw_type(env, "postSend(sq, desc: BigUint64Array, count: 0..65535, inline, fd, qpHandle)");
  napi_valuetype t;
  CHECK(env, napi_typeof(env, argv[3], &t));
  if (t != napi_null && t != napi_undefined && !typed_bytes(env, argv[3], napi_uint8_array, (void **)&inl, &inl_len))
    return throw_type(env, "The \"inline\" argument must be a Uint8Array or null");
  enum rxe_post_status status;
  uint32_t n = rxe_post_send(&r->q, desc, words, (uint32_t)count, inl, inl_len, &status);
  uint32_t result = n + ((uint32_t)status << 16);
  if (n > 0 && fd >= 0) {
    int e = doorbell(fd, (uint32_t)qp);
    if (e < 0) result |= (uint32_t)(-e & 0xff) << 24;
  }
  napi_value out;
  CHECK(env, napi_create_uint32(env, result, &out));
  return out;
}

/* postRecv(rq, desc: BigUint64Array, count) -> posted + status * 0x10000. No syscall. */
static napi_value post_recv(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "postRecv(rq, desc, count)");
  struct mapping *r = ring_from(env, argv[0], RING_RXE_RQ);
  if (r == NULL) return NULL;
  uint64_t *desc;
  size_t words;
  int32_t count;
  if (!typed_bytes(env, argv[1], napi_biguint64_array, (void **)&desc, &words) || !get_i32(env, argv[2], &count) ||
      count < 0 || count > 0xffff)
    return throw_type(env, "postRecv(rq, desc: BigUint64Array, count: 0..65535)");
  enum rxe_post_status status;
  uint32_t n = rxe_post_recv(&r->q, desc, words, (uint32_t)count, &status);
  napi_value out;
  CHECK(env, napi_create_int32(env, (int32_t)(n + ((uint32_t)status << 16)), &out));
  return out;
}

/* pollCq(cq, out: Uint8Array, max) -> completions copied (48 bytes each, struct ib_uverbs_wc). */
static napi_value poll_cq(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "pollCq(cq, out, max)");
  struct mapping *r = ring_from(env, argv[0], RING_RXE_CQ);
  if (r == NULL) return NULL;
  uint8_t *out;
  size_t length;
  int32_t max;
  if (!typed_bytes(env, argv[1], napi_uint8_array, (void **)&out, &length) || !get_i32(env, argv[2], &max) ||
      max < 0 || (size_t)max > length / sizeof(struct ib_uverbs_wc))
    return throw_type(env, "pollCq(cq, out: Uint8Array, max: completions that fit in out)");
  napi_value result;
  CHECK(env, napi_create_uint32(env, rxe_poll_cq(&r->q, out, (uint32_t)max), &result));
  return result;
}

/* ---- siw: slots with VALID flags (siw_queue.h) ------------------------------ */

/*
 * siwPostSend(sq, desc: BigUint64Array, count, inline: Uint8Array | null, fd, qpHandle)
 * -> posted (bits 0-15) + status << 16 (siw_post_status) + the doorbell's
 * errno << 24, as postSend. fd < 0 rings no doorbell.
 */
static napi_value siw_post_send_js(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_type(env, "siwPostSend(sq, desc, count, inline, fd, qpHandle)");
  struct mapping *r = ring_from(env, argv[0], RING_SIW_SQ);
  if (r == NULL) return NULL;
  uint64_t *desc;
  size_t words, inl_len = 0;
  uint8_t *inl = NULL;
  int32_t count, fd, qp;
  if (!typed_bytes(env, argv[1], napi_biguint64_array, (void **)&desc, &words) || !get_i32(env, argv[2], &count) ||
      count < 0 || count > 0xffff || !get_i32(env, argv[4], &fd) || !get_i32(env, argv[5], &qp))
    return throw_type(env, "siwPostSend(sq, desc: BigUint64Array, count: 0..65535, inline, fd, qpHandle)");
  napi_valuetype t;
  CHECK(env, napi_typeof(env, argv[3], &t));
  if (t != napi_null && t != napi_undefined && !typed_bytes(env, argv[3], napi_uint8_array, (void **)&inl, &inl_len))
    return throw_type(env, "The \"inline\" argument must be a Uint8Array or null");
  enum siw_post_status status;
  uint32_t n = siw_post_send(&r->s, desc, words, (uint32_t)count, inl, inl_len, &status);
  uint32_t result = n + ((uint32_t)status << 16);
  if (n > 0 && fd >= 0) {
    int e = doorbell(fd, (uint32_t)qp);
    if (e < 0) result |= (uint32_t)(-e & 0xff) << 24;
  }
  napi_value out;
  CHECK(env, napi_create_uint32(env, result, &out));
  return out;
}

/* siwPostRecv(rq, desc: BigUint64Array, count) -> posted + status << 16. An RQ or an SRQ. No syscall. */
static napi_value siw_post_recv_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "siwPostRecv(rq, desc, count)");
  struct mapping *r = ring_from(env, argv[0], RING_SIW_RQ);
  if (r == NULL) return NULL;
  uint64_t *desc;
  size_t words;
  int32_t count;
  if (!typed_bytes(env, argv[1], napi_biguint64_array, (void **)&desc, &words) || !get_i32(env, argv[2], &count) ||
      count < 0 || count > 0xffff)
    return throw_type(env, "siwPostRecv(rq, desc: BigUint64Array, count: 0..65535)");
  enum siw_post_status status;
  uint32_t n = siw_post_recv(&r->s, desc, words, (uint32_t)count, &status);
  napi_value out;
  CHECK(env, napi_create_uint32(env, n + ((uint32_t)status << 16), &out));
  return out;
}

/* siwPollCq(cq, out: Uint8Array, max) -> completions copied (struct ib_uverbs_wc, 48 bytes each). */
static napi_value siw_poll_cq_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "siwPollCq(cq, out, max)");
  struct mapping *r = ring_from(env, argv[0], RING_SIW_CQ);
  if (r == NULL) return NULL;
  uint8_t *out;
  size_t length;
  int32_t max;
  if (!typed_bytes(env, argv[1], napi_uint8_array, (void **)&out, &length) || !get_i32(env, argv[2], &max) ||
      max < 0 || (size_t)max > length / sizeof(struct ib_uverbs_wc))
    return throw_type(env, "siwPollCq(cq, out: Uint8Array, max: completions that fit in out)");
  napi_value result;
  CHECK(env, napi_create_uint32(env, siw_poll_cq(&r->s, out, (uint32_t)max), &result));
  return result;
}

/* siwArmCq(cq, solicitedOnly: boolean): the next (solicited) completion signals the CQ's channel. No syscall. */
static napi_value siw_arm_cq_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "siwArmCq(cq, solicitedOnly)");
  struct mapping *r = ring_from(env, argv[0], RING_SIW_CQ);
  if (r == NULL) return NULL;
  bool solicited = false;
  if (napi_get_value_bool(env, argv[1], &solicited) != napi_ok)
    return throw_type(env, "siwArmCq(cq, solicitedOnly: boolean)");
  siw_arm_cq(&r->s, solicited);
  return NULL;
}

/* ---- readiness on the event loop ---------------------------------------- */

struct watch {
  uv_poll_t poll;
  int fd; /* our own duplicate: the caller may close theirs while we poll */
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  napi_async_cleanup_hook_handle teardown; /* while active: the environment's end closes the handle */
  int active;    /* polling, callback held */
  int closed;    /* libuv is done with the handle */
  int finalized; /* JS is done with the handle */
};

/* The struct goes when both libuv and JS have let go of it; the fd as soon as libuv has. */
static void watch_closed(uv_handle_t *handle) {
  struct watch *w = handle->data;
  close(w->fd);
  w->closed = 1;
  if (w->finalized) free(w);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct watch *w = data;
  w->finalized = 1;
  if (w->closed) free(w);
}

/* Stops polling and lets go of the callback; libuv closes the handle on its next turn. */
static void watch_stop_polling(struct watch *w) {
  w->active = 0;
  uv_poll_stop(&w->poll);
  napi_delete_reference(w->env, w->callback);
  w->callback = NULL;
  napi_async_destroy(w->env, w->async);
  w->async = NULL;
}

/* A cancel or a wake-up: the environment's teardown no longer needs to close this handle. */
static void watch_stop(struct watch *w) {
  if (!w->active) return;
  watch_stop_polling(w);
  napi_remove_async_cleanup_hook(w->teardown);
  uv_close((uv_handle_t *)&w->poll, watch_closed);
}

/* The teardown hook's handle is removed only once libuv has closed the poll handle. */
static void watch_closed_at_teardown(uv_handle_t *handle) {
  struct watch *w = handle->data;
  napi_remove_async_cleanup_hook(w->teardown);
  watch_closed(handle);
}

/*
 * The environment is ending (a Worker terminated, or the process exiting)
 * while a wait is pending: close the poll handle, so libuv never closes a
 * loop that still has it open (which aborts the whole process).
 */
static void watch_teardown(napi_async_cleanup_hook_handle hook, void *data) {
  (void)hook;
  struct watch *w = data;
  if (!w->active) return;
  watch_stop_polling(w);
  uv_close((uv_handle_t *)&w->poll, watch_closed_at_teardown);
}

static void watch_ready(uv_poll_t *poll, int status, int events) {
  (void)events;
  struct watch *w = poll->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback = NULL, recv, arg;
  napi_get_reference_value(env, w->callback, &callback);
  napi_async_context async = w->async;
  w->async = NULL; /* destroyed after the callback, which runs inside it */
  watch_stop(w);
  napi_get_global(env, &recv);
  napi_create_int32(env, status, &arg);
  if (callback != NULL) napi_make_callback(env, async, recv, callback, 1, &arg, NULL);
  /*
   * A callback that threw: report it as Node reports an exception from any
   * event-loop callback (process 'uncaughtException'), rather than leave it
   * pending, to be thrown by the next, unrelated call into this addon.
   */
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  }
  napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

/*
 * waitReadable(fd, callback) -> watch: calls callback(status) once, when
 * fd is readable (status 0) or polling failed (a negative libuv error).
 * While it waits, the event loop stays alive, as for a socket read.
 */
static napi_value wait_readable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  napi_valuetype t;
  if (argc < 2 || !get_i32(env, argv[0], &fd) || fd < 0 || napi_typeof(env, argv[1], &t) != napi_ok ||
      t != napi_function)
    return throw_type(env, "waitReadable(fd, callback)");
  uv_loop_t *loop;
  napi_value name, handle;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  CHECK(env, napi_create_string_utf8(env, "uverbs.waitReadable", NAPI_AUTO_LENGTH, &name));
  struct watch *w = calloc(1, sizeof(*w));
  if (w == NULL) return throw_errno(env, "malloc", ENOMEM);
  /*
   * Poll a duplicate that only this watch closes: libuv aborts the process
   * if a watched fd is closed before the loop's next turn registers it, and
   * the owner of `fd` may close it at any time.
   */
  w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (w->fd < 0) {
    int dup_errno = errno;
    free(w);
    return throw_errno(env, "fcntl", dup_errno);
  }
  int e = uv_poll_init(loop, &w->poll, w->fd);
  if (e != 0) {
    close(w->fd);
    free(w);
    return throw_errno(env, "uv_poll_init", -e);
  }
  w->poll.data = w;
  w->env = env;
  /* from here on the poll handle exists and must be closed on every path; JS holds no handle yet */
  w->finalized = 1;
  if (napi_async_init(env, NULL, name, &w->async) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_add_async_cleanup_hook(env, watch_teardown, w, &w->teardown) != napi_ok) {
    if (w->callback != NULL) napi_delete_reference(env, w->callback);
    if (w->async != NULL) napi_async_destroy(env, w->async);
    uv_close((uv_handle_t *)&w->poll, watch_closed);
    return throw_last(env);
  }
  w->active = 1;
  e = uv_poll_start(&w->poll, UV_READABLE, watch_ready);
  if (e != 0) {
    watch_stop(w);
    return throw_errno(env, "uv_poll_start", -e);
  }
  if (napi_create_external(env, w, watch_finalize, NULL, &handle) != napi_ok) {
    watch_stop(w);
    return throw_last(env);
  }
  w->finalized = 0;
  CHECK(env, napi_type_tag_object(env, handle, &WATCH_TAG));
  return handle;
}

/* cancelWait(watch): stops waiting; the callback is not called. Idempotent. */
static napi_value cancel_wait(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct watch *w = unwrap(env, argc < 1 ? NULL : argv[0], &WATCH_TAG, "The \"watch\" argument must be a watch handle");
  if (w != NULL) watch_stop(w);
  return NULL;
}

/* ---- caller memory and file mappings (issue 14) ---------------------------- */

/*
 * Memory the caller already has, registered where it is: only a
 * SharedArrayBuffer (or a view over one). The kernel pins the pages of an MR
 * and DMAs into them until the MR is destroyed, so the JS memory must stay
 * where it is, allocated, for exactly that long. A SharedArrayBuffer can:
 * it is never detached (napi_detach_arraybuffer wants an ArrayBuffer,
 * `ArrayBuffer.prototype.transfer` refuses it, a transfer list holding one
 * is a DataCloneError), and a non-growable one never changes length. A
 * plain ArrayBuffer cannot be kept with N-API: anyone can detach it
 * (`transfer()` on Node >= 21 even after markAsUntransferable, and
 * napi_detach_arraybuffer from any addon), and its memory is then freed or
 * moved while the kernel still writes into it. Only V8's C++ API could
 * stop that (SetDetachKey), at the price of N-API's ABI stability, so JS
 * refuses it (src/transport/memory.ts says why, and what to use instead).
 *
 * The pin holds a strong reference to the SharedArrayBuffer until unpin,
 * called only once the kernel has let go (MR destroyed, or the context's fd
 * closed and every ring mapping of it gone: the uverbs file's last
 * references). A pin handle collected without unpin (a context dropped without
 * close: its fd, and so the registration, stays open) keeps the reference
 * for good: a leak, never freed memory under a live registration. The
 * address and length come from the buffer itself, never from JS numbers.
 */
struct pin {
  napi_ref buffer; /* strong: the SharedArrayBuffer */
  int released;    /* holds nothing: unpin ran, or pinShared failed before taking the reference */
  int collected;   /* the handle's finalizer ran */
};

static const napi_type_tag PIN_TAG = {0x7576657262735f70ULL, 0x696e5f68616e646cULL}; /* "uverbs_pin_handl" */

static void pin_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct pin *p = data;
  p->collected = 1;
  if (p->released) free(p); /* otherwise the strong reference stays: see above */
}

/* Bytes per element of the typed array types this N-API names; 0 for any other (a newer type, or none reported). */
static size_t element_size(napi_typedarray_type type) {
  switch (type) {
  case napi_int8_array:
  case napi_uint8_array:
  case napi_uint8_clamped_array: return 1;
  case napi_int16_array:
  case napi_uint16_array: return 2;
  case napi_int32_array:
  case napi_uint32_array:
  case napi_float32_array: return 4;
  case napi_float64_array:
  case napi_bigint64_array:
  case napi_biguint64_array: return 8;
  default: return 0;
  }
}

/*
 * pinShared(view: TypedArray | DataView over a SharedArrayBuffer)
 * -> [pin, SharedArrayBuffer, byteOffset, byteLength, address: bigint].
 * A view over an ArrayBuffer, an empty one, a typed array whose element
 * type this N-API cannot name (Node 22's leaves it unset for a
 * Float16Array), or anything else: TypeError. JS hands it a Uint8Array
 * (src/transport/memory.ts), so its length is its byte length. The strong
 * reference is the last step that can fail: a failure before it holds
 * nothing, and nothing can fail after it.
 */
static napi_value pin_shared(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_typed = false, is_view = false, plain = true;
  void *data = NULL;
  size_t length = 0, offset = 0;
  napi_value buffer = NULL;
  if (argc >= 1) {
    CHECK(env, napi_is_typedarray(env, argv[0], &is_typed));
    if (!is_typed) CHECK(env, napi_is_dataview(env, argv[0], &is_view));
  }
  if (is_typed) {
    napi_typedarray_type type = (napi_typedarray_type)-1; /* stays so where N-API has no name for the type */
    size_t count = 0, size;
    CHECK(env, napi_get_typedarray_info(env, argv[0], &type, &count, &data, &buffer, &offset));
    size = element_size(type);
    if (size == 0) return throw_type(env, "pinShared: a typed array of an element type this Node-API cannot name");
    length = count * size;
  } else if (is_view) {
    CHECK(env, napi_get_dataview_info(env, argv[0], &length, &data, &buffer, &offset));
  } else {
    return throw_type(env, "pinShared(view: a TypedArray or DataView over a SharedArrayBuffer)");
  }
  CHECK(env, napi_is_arraybuffer(env, buffer, &plain)); /* false only for a SharedArrayBuffer */
  if (plain) return throw_type(env, "pinShared: the view's buffer is an ArrayBuffer, not a SharedArrayBuffer");
  if (data == NULL || length == 0) return throw_type(env, "pinShared: the view is empty");
  struct pin *p = calloc(1, sizeof(*p));
  if (p == NULL) return throw_errno(env, "malloc", ENOMEM);
  napi_value handle, result, v;
  if (napi_create_external(env, p, pin_finalize, NULL, &handle) != napi_ok) {
    free(p);
    return throw_last(env);
  }
  /* until the reference is taken, the handle holds nothing: a failure leaves it to the finalizer (free) */
  p->released = 1;
  CHECK(env, napi_type_tag_object(env, handle, &PIN_TAG));
  CHECK(env, napi_create_array_with_length(env, 5, &result));
  CHECK(env, napi_set_element(env, result, 0, handle));
  CHECK(env, napi_set_element(env, result, 1, buffer));
  CHECK(env, napi_create_double(env, (double)offset, &v));
  CHECK(env, napi_set_element(env, result, 2, v));
  CHECK(env, napi_create_double(env, (double)length, &v));
  CHECK(env, napi_set_element(env, result, 3, v));
  CHECK(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &v));
  CHECK(env, napi_set_element(env, result, 4, v));
  CHECK(env, napi_create_reference(env, buffer, 1, &p->buffer));
  p->released = 0;
  return result;
}

/* unpin(pin): drops the hold on the SharedArrayBuffer (the kernel has let go). Idempotent. */
static napi_value unpin(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct pin *p = unwrap(env, argc < 1 ? NULL : argv[0], &PIN_TAG, "The \"pin\" argument must be a pin handle");
  if (p == NULL || p->released) return NULL;
  if (p->buffer != NULL) napi_delete_reference(env, p->buffer);
  p->buffer = NULL;
  p->released = 1;
  return NULL;
}

/*
 * mapFile(fd, offset: bigint, length, writable) -> [handle, ArrayBuffer,
 * address]: a regular file's bytes [offset, offset + length), MAP_SHARED,
 * with the lifetime of every other mapping (unmap replaces it with
 * anonymous filler; see "mappings"). The range must lie inside the file
 * (pages past its end fault with SIGBUS); a later truncation cannot reach
 * JS because the library never shows this buffer to JS: the file's bytes
 * are read and written through the file. `offset` is a multiple of the
 * page size; PROT_WRITE only when `writable` (the fd then open for writing).
 */
static napi_value map_file(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  uint64_t offset;
  double length = 0;
  bool lossless, writable = false;
  napi_valuetype t;
  long page = sysconf(_SC_PAGESIZE);
  if (argc < 4 || !get_i32(env, argv[0], &fd) ||
      napi_get_value_bigint_uint64(env, argv[1], &offset, &lossless) != napi_ok || !lossless ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, argv[2], &length) != napi_ok || !(length > 0) || length > 9007199254740991.0 ||
      length != (double)(size_t)length || offset % (uint64_t)page != 0 ||
      napi_get_value_bool(env, argv[3], &writable) != napi_ok)
    return throw_type(env, "mapFile(fd, offset: bigint page-aligned, length: positive, writable: boolean)");
  struct stat st;
  if (fstat(fd, &st) != 0) return throw_errno(env, "fstat", errno);
  if (!S_ISREG(st.st_mode)) return throw_errno(env, "mmap", ENODEV);
  if (offset > (uint64_t)st.st_size || (uint64_t)length > (uint64_t)st.st_size - offset)
    return throw_errno(env, "mmap", ENXIO); /* past the end of the file */
  size_t mapped = ((size_t)length + (size_t)page - 1) / (size_t)page * (size_t)page;
  void *addr = mmap(NULL, mapped, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, (off_t)offset);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  return mapping_wrap(env, addr, mapped, RING_RAW, 0);
}

/* ---- module ----------------------------------------------------------------- */

static napi_status set_u32(napi_env env, napi_value obj, const char *name, uint32_t value) {
  napi_value v;
  napi_status s = napi_create_uint32(env, value, &v);
  return s == napi_ok ? napi_set_named_property(env, obj, name, v) : s;
}

/* The descriptor slots and sizes, from the C that uses them, so JS never restates them. */
static napi_value layout(napi_env env) {
  napi_value o, send, recv, kinds;
  if (napi_create_object(env, &o) != napi_ok || napi_create_object(env, &send) != napi_ok ||
      napi_create_object(env, &recv) != napi_ok || napi_create_object(env, &kinds) != napi_ok)
    return NULL;
  set_u32(env, send, "wrId", SEND_WR_ID);
  set_u32(env, send, "opcode", SEND_OPCODE);
  set_u32(env, send, "flags", SEND_FLAGS);
  set_u32(env, send, "imm", SEND_IMM);
  set_u32(env, send, "remoteAddr", SEND_REMOTE_ADDR);
  set_u32(env, send, "rkey", SEND_RKEY);
  set_u32(env, send, "compareAdd", SEND_COMPARE_ADD);
  set_u32(env, send, "swap", SEND_SWAP);
  set_u32(env, send, "flush", SEND_FLUSH);
  set_u32(env, send, "flushLength", SEND_FLUSH_LENGTH);
  set_u32(env, send, "udQpn", SEND_UD_QPN);
  set_u32(env, send, "udQkey", SEND_UD_QKEY);
  set_u32(env, send, "udAhNum", SEND_UD_AH_NUM);
  set_u32(env, send, "inline", SEND_INLINE);
  set_u32(env, send, "inlineOffset", SEND_INLINE_OFFSET);
  set_u32(env, send, "inlineLength", SEND_INLINE_LENGTH);
  set_u32(env, send, "invalidateRkey", SEND_INVALIDATE_RKEY);
  set_u32(env, send, "mwLength", SEND_MW_LENGTH);
  set_u32(env, send, "mwMrLkey", SEND_MW_MR_LKEY);
  set_u32(env, send, "mwMwRkey", SEND_MW_MW_RKEY);
  set_u32(env, send, "mwAccess", SEND_MW_ACCESS);
  set_u32(env, send, "numSge", SEND_NUM_SGE);
  set_u32(env, send, "words", SEND_DESC_WORDS);
  set_u32(env, recv, "wrId", RECV_WR_ID);
  set_u32(env, recv, "numSge", RECV_NUM_SGE);
  set_u32(env, recv, "words", RECV_DESC_WORDS);
  set_u32(env, kinds, "raw", RING_RAW);
  set_u32(env, kinds, "rxeCq", RING_RXE_CQ);
  set_u32(env, kinds, "rxeSq", RING_RXE_SQ);
  set_u32(env, kinds, "rxeRq", RING_RXE_RQ);
  set_u32(env, kinds, "siwCq", RING_SIW_CQ);
  set_u32(env, kinds, "siwSq", RING_SIW_SQ);
  set_u32(env, kinds, "siwRq", RING_SIW_RQ);
  set_u32(env, o, "sgeWords", UVERBS_SGE_WORDS);
  set_u32(env, o, "wcSize", sizeof(struct ib_uverbs_wc));
  set_u32(env, o, "sendWqeSize", sizeof(struct rxe_send_wqe));
  set_u32(env, o, "recvWqeSize", sizeof(struct rxe_recv_wqe));
  set_u32(env, o, "sgeSize", sizeof(struct rxe_sge));
  set_u32(env, o, "statusFull", RXE_POST_FULL);
  set_u32(env, o, "statusBadWr", RXE_POST_BAD_WR);
  set_u32(env, o, "statusUnsupported", SIW_POST_UNSUPPORTED);
  set_u32(env, o, "siwSqeSize", sizeof(struct siw_sqe));
  set_u32(env, o, "siwRqeSize", sizeof(struct siw_rqe));
  set_u32(env, o, "siwCqeSize", sizeof(struct siw_cqe));
  napi_set_named_property(env, o, "send", send);
  napi_set_named_property(env, o, "recv", recv);
  napi_set_named_property(env, o, "kinds", kinds);
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mapRing", NULL, map_ring, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allocRing", NULL, alloc_ring, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mapAnonymous", NULL, map_anonymous, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unmap", NULL, unmap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"postSend", NULL, post_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"postRecv", NULL, post_recv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollCq", NULL, poll_cq, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allocSiwRing", NULL, alloc_siw_ring, NULL, NULL, NULL, napi_enumerable, NULL},
      {"siwPostSend", NULL, siw_post_send_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"siwPostRecv", NULL, siw_post_recv_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"siwPollCq", NULL, siw_poll_cq_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"siwArmCq", NULL, siw_arm_cq_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitReadable", NULL, wait_readable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cancelWait", NULL, cancel_wait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pinShared", NULL, pin_shared, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unpin", NULL, unpin, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mapFile", NULL, map_file, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layout", NULL, NULL, NULL, NULL, layout(env), napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
