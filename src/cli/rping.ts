/**
 * `uverbs rping`: librdmacm's rping, through this library (src/cm/rping.ts),
 * with rping's options and its `-v` lines, so either side can be rping.
 */

import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { RPING_DEFAULT_SIZE, RPING_MAX_SIZE, RPING_MIN_SIZE, RPING_PORT, rping } from '../cm/rping.js';
import { json } from './output.js';
import { UsageError } from './usage.js';

export const RPING_HELP = `Usage: uverbs rping -s [-vV] [-S size] [-C count] [-a addr] [-p port]
       uverbs rping -c [-vV] [-S size] [-C count] -a addr [-p port]

librdmacm's rping through this library's rdma_cm client and datapath,
wire-compatible with rdma-core's rping (either side can be rping): the
client SENDs its buffers' addresses, the server RDMA READs the ping and
RDMA WRITEs it back, each step acknowledged by a SEND.

Options:
  -s             server side (listens; pings until the client disconnects)
  -c             client side
  -a ADDR        client: the server's address; server: the address to
                 listen on (default 0.0.0.0)
  -p PORT        port (default ${RPING_PORT})
  -C COUNT       ping count (default 0: until stopped); a server given a
                 count fails unless the client did exactly that many
  -S SIZE        ping data size, ${RPING_MIN_SIZE} to ${RPING_MAX_SIZE} (default ${RPING_DEFAULT_SIZE})
  -v             print each ping's data as rping does ("ping data: ...",
                 the server "server ping data: ...")
  -V             validate: the client compares each echo with what it
                 sent, the server checks each ping is rping's pattern
  -q             no progress lines on stderr
      --json     a summary object ({"schema": 1, ...}) on stdout (-v lines
                 then go to stderr)
  -h, --help     this help

Exit status 0 only when every ping completed (and validated with -V) and
the connection ended cleanly; 1 with rping's message otherwise; 2 for bad
options.`;

function integer(option: string, value: string | undefined, fallback: number, min: number, max: number, what: string) {
  if (value === undefined) return fallback;
  const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`uverbs rping: ${option}: ${what} '${value}' (valid range is ${min} to ${max})`);
  return n;
}

export async function rpingCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      server: { type: 'boolean', short: 's', default: false },
      client: { type: 'boolean', short: 'c', default: false },
      address: { type: 'string', short: 'a' },
      port: { type: 'string', short: 'p' },
      count: { type: 'string', short: 'C' },
      size: { type: 'string', short: 'S' },
      verbose: { type: 'boolean', short: 'v', default: false },
      validate: { type: 'boolean', short: 'V', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${RPING_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`uverbs rping: unexpected '${positionals[0]}'\n\n${RPING_HELP}`);
  if (values.server === values.client) throw new UsageError(`uverbs rping: give one of -s and -c\n\n${RPING_HELP}`);
  const role = values.server ? 'server' : 'client';
  if (role === 'client' && values.address === undefined)
    throw new UsageError('uverbs rping: the client needs the server address (-a ADDR)');
  const address = values.address;
  if (address !== undefined && isIP(address) === 0)
    throw new UsageError(`uverbs rping: -a: '${address}' is not an IPv4 or IPv6 address`);
  const port = integer('-p', values.port, RPING_PORT, 0, 65535, 'Invalid port');
  const count = integer('-C', values.count, 0, 0, 0x7fffffff, 'Invalid count');
  const size = integer('-S', values.size, RPING_DEFAULT_SIZE, RPING_MIN_SIZE, RPING_MAX_SIZE, 'Invalid size');
  const lines = values.json ? process.stderr : process.stdout;
  const progress = (line: string) => {
    if (!values.quiet) process.stderr.write(`uverbs rping: ${line}\n`);
  };
  progress(
    role === 'server'
      ? `listening on ${address ?? '0.0.0.0'}:${port}`
      : `connecting to ${address}:${port}, ${count === 0 ? 'no count' : `${count} pings`} of ${size} bytes`,
  );
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  try {
    const result = await rping({
      role,
      ...(address !== undefined ? { address } : {}),
      port,
      count,
      size,
      validate: values.validate,
      signal: controller.signal,
      ...(values.verbose ? { onPing: (line: string) => lines.write(`${line}\n`) } : {}),
      onNotice: (line) => process.stderr.write(`${line}\n`),
    });
    progress(`${result.pings} pings of ${size} bytes on ${result.device} in ${result.seconds.toFixed(2)} s`);
    if (values.json) process.stdout.write(json({ schema: 1, ok: true, ...result, port, count }));
    return 0;
  } catch (error) {
    const e = error as Error & { pings?: number; code?: string };
    process.stderr.write(`${e.message}\n`);
    process.stderr.write(`rping ${role} failed${e.pings === undefined ? '' : ` after ${e.pings} pings`}\n`);
    if (values.json)
      process.stdout.write(json({ schema: 1, role, ok: false, error: e.message, code: e.code, pings: e.pings ?? 0 }));
    return 1;
  } finally {
    process.removeListener('SIGINT', stop);
  }
}
