import { describe, expect, it } from 'vitest';
import { FdWaiters, type WatchReadable } from '../src/transport/fd-waiters.js';

/** A watch factory that records what is armed and cancelled, and fires on demand. */
function fakeWatch() {
  const armed: { fire: (status: number) => void; cancelled: boolean }[] = [];
  const watch: WatchReadable = (_fd, _owner, callback) => {
    const w = { fire: callback, cancelled: false };
    armed.push(w);
    return {
      cancel: () => {
        w.cancelled = true;
      },
    };
  };
  return { armed, watch };
}

describe('FdWaiters', () => {
  it('one watch serves every parked wait, and its firing wakes them all with its status', () => {
    const { armed, watch } = fakeWatch();
    const waiters = new FdWaiters(7, 'test fd 7', watch);
    const woke: string[] = [];
    waiters.park((s) => woke.push(`a ${s}`));
    waiters.park((s) => woke.push(`b ${s}`));
    expect(armed).toHaveLength(1);
    armed[0]?.fire(-5);
    expect(woke).toEqual(['a -5', 'b -5']);
    expect(waiters.size).toBe(0);
    // the watch fired once: the next park arms a new one
    waiters.park(() => {});
    expect(armed).toHaveLength(2);
  });

  it('the last wait to leave cancels the watch; an earlier one does not', () => {
    const { armed, watch } = fakeWatch();
    const waiters = new FdWaiters(7, 'test fd 7', watch);
    const leaveA = waiters.park(() => expect.fail('a left, not woken'));
    const leaveB = waiters.park(() => expect.fail('b left, not woken'));
    leaveA();
    expect(armed[0]?.cancelled).toBe(false);
    leaveB();
    expect(armed[0]?.cancelled).toBe(true);
    expect(waiters.size).toBe(0);
  });

  it('wakeAll cancels the watch and wakes every wait with 0 (an event taken off the fd by another reader; close)', () => {
    const { armed, watch } = fakeWatch();
    const waiters = new FdWaiters(7, 'test fd 7', watch);
    const woke: number[] = [];
    waiters.park((s) => woke.push(s));
    waiters.park((s) => woke.push(s));
    waiters.wakeAll();
    expect(woke).toEqual([0, 0]);
    expect(armed[0]?.cancelled).toBe(true);
    waiters.wakeAll(); // nothing parked: nothing to wake, nothing armed
    expect(woke).toEqual([0, 0]);
    expect(armed).toHaveLength(1);
  });

  it('a watch that cannot be armed parks nothing and throws its error', () => {
    const waiters = new FdWaiters(7, 'test fd 7', () => {
      throw new Error('no watch');
    });
    expect(() => waiters.park(() => {})).toThrow('no watch');
    expect(waiters.size).toBe(0);
  });
});
