/**
 * A child process of `uverbs check --fault-injection` (fault-injection.ts,
 * inChildren): runs one sweep and writes its result as JSON to stdout, the
 * step it is at to stderr (`at N`, before arming), so that a death from a
 * fault that fell in Node's runtime says where it happened.
 */

import { runChild } from './fault-injection.js';

process.stdout.write(JSON.stringify(runChild(process.argv.slice(2))));
