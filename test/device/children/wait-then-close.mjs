/**
 * A cq.wait() pending on a real device when its CQ (argv[3] 'cq'), its
 * context ('context') or its channel ('channel') closes: the wait must
 * reject with UverbsClosedError, and the process must then exit on its own
 * while the channel stays open (a watch left on the channel's fd would
 * keep it alive forever). Prints the rejection's name; exit status 0.
 * test/device/waits.device.test.ts.
 */

import { Context } from '../../../dist/src/verbs/context.js';

const [device, what] = process.argv.slice(2);
const ctx = Context.open(device);
const channel = ctx.createCompletionChannel();
const cq = ctx.createCq({ cqe: 4, channel });
cq.wait(new Uint8Array(48)).then(
  () => console.log('resolved'),
  (error) => console.log(error.name),
);
setTimeout(() => {
  if (what === 'cq') cq.close();
  else if (what === 'context') ctx.close({ cascade: false });
  else channel.close();
  // the channel (a file of its own) stays open unless it was what closed; nothing else is pending
}, 100);
