/*
 * The C side of `npm run bench`: the same operations as bench/verbs.mjs,
 * through Debian's libibverbs, so the two can be compared side by side on
 * one device in one guest. Prints one JSON object per line:
 *   {"op": "...", "n": N, "ns": total nanoseconds}
 *
 *   verbs-c DEV GIDX ITERS
 *
 * Operations: control path (PD alloc+free, 4 KiB MR reg+dereg, CQ
 * create+destroy, RC QP create+destroy), and a loopback RC SEND of 4 KiB
 * between two QPs of one context (post recv, post send, poll until both
 * completions), and the same with 64 B inline.
 */
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void report(const char *op, int n, long long ns) { printf("{\"op\":\"%s\",\"n\":%d,\"ns\":%lld}\n", op, n, ns); }

static struct ibv_qp *rc_qp(struct ibv_pd *pd, struct ibv_cq *cq) {
  struct ibv_qp_init_attr a = {.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
                               .cap = {.max_send_wr = 64, .max_recv_wr = 64, .max_send_sge = 1, .max_recv_sge = 1, .max_inline_data = 64}};
  struct ibv_qp *qp = ibv_create_qp(pd, &a);
  if (!qp) die("ibv_create_qp");
  return qp;
}

static void connect_qp(struct ibv_qp *qp, uint32_t dest, union ibv_gid *gid, int gidx) {
  struct ibv_qp_attr a = {.qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = 1,
                          .qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE};
  if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) die("INIT");
  memset(&a, 0, sizeof a);
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = IBV_MTU_1024;
  a.dest_qp_num = dest;
  a.max_dest_rd_atomic = 1;
  a.min_rnr_timer = 12;
  a.ah_attr.is_global = 1;
  a.ah_attr.grh.dgid = *gid;
  a.ah_attr.grh.sgid_index = gidx;
  a.ah_attr.grh.hop_limit = 64;
  a.ah_attr.port_num = 1;
  if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
    die("RTR");
  memset(&a, 0, sizeof a);
  a.qp_state = IBV_QPS_RTS;
  a.timeout = 14;
  a.retry_cnt = 7;
  a.rnr_retry = 7;
  a.max_rd_atomic = 1;
  if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                IBV_QP_MAX_QP_RD_ATOMIC))
    die("RTS");
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: verbs-c DEV GIDX ITERS\n");
    return 2;
  }
  int gidx = atoi(argv[2]), iters = atoi(argv[3]);
  int num;
  struct ibv_device **list = ibv_get_device_list(&num);
  struct ibv_context *ctx = NULL;
  for (int i = 0; list && i < num; i++)
    if (!strcmp(ibv_get_device_name(list[i]), argv[1])) ctx = ibv_open_device(list[i]);
  if (!ctx) die("ibv_open_device");
  struct ibv_pd *pd = ibv_alloc_pd(ctx);
  struct ibv_cq *cq = ibv_create_cq(ctx, 256, NULL, NULL, 0);
  char *buf = aligned_alloc(4096, 65536);
  memset(buf, 1, 65536);
  if (!pd || !cq || !buf) die("setup");

  long long t = now();
  for (int i = 0; i < iters; i++) ibv_dealloc_pd(ibv_alloc_pd(ctx));
  report("pd", iters, now() - t);
  t = now();
  for (int i = 0; i < iters; i++) ibv_dereg_mr(ibv_reg_mr(pd, buf, 4096, IBV_ACCESS_LOCAL_WRITE));
  report("mr4k", iters, now() - t);
  t = now();
  for (int i = 0; i < iters; i++) ibv_destroy_cq(ibv_create_cq(ctx, 64, NULL, NULL, 0));
  report("cq", iters, now() - t);
  t = now();
  for (int i = 0; i < iters; i++) ibv_destroy_qp(rc_qp(pd, cq));
  report("qp", iters, now() - t);

  struct ibv_mr *mr = ibv_reg_mr(pd, buf, 65536, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
  struct ibv_qp *a = rc_qp(pd, cq), *b = rc_qp(pd, cq);
  union ibv_gid gid;
  if (!mr || ibv_query_gid(ctx, 1, gidx, &gid)) die("gid");
  connect_qp(a, b->qp_num, &gid, gidx);
  connect_qp(b, a->qp_num, &gid, gidx);
  const struct {
    const char *op;
    unsigned size;
    unsigned flags;
  } sends[] = {{"send4k", 4096, IBV_SEND_SIGNALED}, {"send64inline", 64, IBV_SEND_SIGNALED | IBV_SEND_INLINE}};
  for (unsigned k = 0; k < 2; k++) {
    struct ibv_sge rs = {.addr = (uintptr_t)buf + 32768, .length = 4096, .lkey = mr->lkey};
    struct ibv_sge ss = {.addr = (uintptr_t)buf, .length = sends[k].size, .lkey = mr->lkey};
    struct ibv_recv_wr rw = {.wr_id = 1, .sg_list = &rs, .num_sge = 1}, *bad_r;
    struct ibv_send_wr sw = {.wr_id = 2, .sg_list = &ss, .num_sge = 1, .opcode = IBV_WR_SEND, .send_flags = sends[k].flags}, *bad_s;
    struct ibv_wc wc[2];
    t = now();
    for (int i = 0; i < iters; i++) {
      if (ibv_post_recv(b, &rw, &bad_r) || ibv_post_send(a, &sw, &bad_s)) die("post");
      for (int got = 0; got < 2;) {
        int n = ibv_poll_cq(cq, 2, wc);
        if (n < 0) die("poll");
        for (int j = 0; j < n; j++)
          if (wc[j].status != IBV_WC_SUCCESS) {
            fprintf(stderr, "completion %s\n", ibv_wc_status_str(wc[j].status));
            return 1;
          }
        got += n;
      }
    }
    report(sends[k].op, iters, now() - t);
  }
  return 0;
}
