/**
 * Reliability scenarios of DESIGN §Reliability that the datapath makes
 * testable (the numbers are the list's): 12, CQ overflow; 14, posting
 * outside RTS and past the receive queue; 15, nothing of ours crosses exec.
 * The others live with the objects they are about (lifecycle, abi, fuzz,
 * datapath tests) or are not written yet.
 */

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Context } from '../../src/context.js';
import { UverbsError } from '../../src/errors.js';
import { COMPLETION_SIZE } from '../../src/work-request.js';
import { skipWith, TEST_DEVICE, VM_KERNEL } from './support.js';

const name = TEST_DEVICE as string;
const siw = name?.startsWith('siw');
const SGID = 1;

function rcPair(cqe: number) {
  const ctx = Context.open(name);
  // before the CQ: an object's events go to the async event fd the context had when it was created
  const events = ctx.asyncEvents();
  const pd = ctx.allocPd();
  const cq = ctx.createCq({ cqe, userHandle: 0xc0ffeen });
  const rcq = ctx.createCq({ cqe: 256 });
  const cap = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 1, maxRecvSge: 1 };
  const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: rcq, cap });
  const b = pd.createQp({ type: 'RC', sendCq: rcq, recvCq: rcq, cap });
  const mr = pd.registerMemory(4096, { localWrite: true, remoteWrite: true });
  return { ctx, events, pd, cq, rcq, a, b, mr };
}

describe.runIf(TEST_DEVICE)(`reliability on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it('12: a CQ that overflows raises IB_EVENT_CQ_ERR, and polling it reads no more than its ring holds', async (test) => {
    if (siw) return skipWith(test, `${name}: the library has no siw datapath yet`);
    const { ctx, events, cq, a, b, mr } = rcPair(4);
    const { gid } = ctx.queryGid(1, SGID);
    a.connect({ qpNum: b.qpNum, psn: 0, gid }, { sgidIndex: SGID });
    b.connect({ qpNum: a.qpNum, psn: 0, gid }, { sgidIndex: SGID });
    const slots = (cq.rings[0]?.words[1] ?? 0) + 1; // index_mask + 1
    // RDMA writes: every one completes on the small CQ, nothing to receive on the peer
    const writes = Array.from({ length: slots + 8 }, (_, i) => ({
      wrId: BigInt(i),
      opcode: 'RDMA_WRITE' as const,
      signaled: true,
      sg: [{ mr, length: 8 }],
      remote: { addr: mr.address, rkey: mr.rkey },
    }));
    for (let i = 0; i < writes.length; i += 16) a.postSend(writes.slice(i, i + 16));
    const event = await events.wait();
    expect(event).toEqual({ type: 'IB_EVENT_CQ_ERR', element: 0xc0ffeen });
    const out = new Uint8Array(4 * slots * COMPLETION_SIZE);
    const n = cq.poll(out, 4 * slots);
    // one slot always stays empty: at most slots - 1 completions were ever in the ring
    expect(n).toBeLessThanOrEqual(slots - 1);
    expect(n).toBeGreaterThan(0);
    ctx.close();
  });

  it('14: posting to a QP that is not in RTS is the kernel’s EINVAL; a full receive queue is ENOMEM with nothing posted', (test) => {
    if (siw) return skipWith(test, `${name}: the library has no siw datapath yet`);
    const { ctx, a, mr } = rcPair(16);
    // RESET: the WQE goes into the ring, the doorbell is refused (rxe_post_send: state < RTS)
    let error: unknown;
    try {
      a.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ code: 'EINVAL', syscall: 'write', method: 'IB_USER_VERBS_CMD_POST_SEND' });
    const rq = a.rings.find((r) => r.name === 'rq');
    const slots = (rq?.words[1] ?? 0) + 1;
    const recv = { sg: [{ mr, length: 64 }] };
    a.postRecv(Array.from({ length: slots - 1 }, () => recv)); // a ring holds slots - 1
    const producer = rq?.words[32];
    expect(() => a.postRecv(recv)).toThrow(expect.objectContaining({ code: 'ENOMEM', path: 'ring' }));
    expect(rq?.words[32]).toBe(producer);
    ctx.close();
  });

  it('15: nothing of ours crosses exec: a child sees no uverbs, channel or event fd (O_CLOEXEC)', () => {
    const ctx = Context.open(name);
    const channel = ctx.createCompletionChannel();
    const events = ctx.asyncEvents();
    // ours exist here: the uverbs node, and the channel and event fds (anon inodes)
    const mine = spawnSync('ls', ['-l', `/proc/${process.pid}/fd`], { encoding: 'utf8' }).stdout;
    expect(mine).toMatch(/\/dev\/infiniband\/uverbs/);
    expect(mine).toMatch(new RegExp(` ${channel.fd} -> anon_inode:`));
    expect(mine).toMatch(new RegExp(` ${events.fd} -> anon_inode:`));
    const child = spawnSync('sh', ['-c', 'ls -l /proc/$$/fd'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout).not.toMatch(/infiniband|anon_inode/);
    ctx.close();
  });
});
