/**
 * ucma write framing (drivers/infiniband/core/ucma.c, ucma_write):
 *
 *   rdma_ucm_cmd_hdr {cmd, in, out} | command struct
 *   in  = the command struct's size (the kernel checks in + 8 <= the write's length)
 *   out = the response struct's size (handlers refuse less with ENOSPC)
 *
 * The response is written by the kernel through the command's `response`
 * pointer, into library-owned scratch memory: the encoder sets that
 * pointer itself, so no caller's number ever becomes one.
 */

import { invalidArgValue } from '../errors.js';
import type { Region, Scratch } from '../transport/memory.js';
import { decode, encode, type Input } from './layout.js';
import { type CmCommand, rdma_ucm_cmd_hdr } from './rdma-cm.js';

export interface EncodedCm {
  readonly command: CmCommand;
  /** The whole buffer to write(2): header and command. */
  readonly buffer: Region;
  /** Where the kernel writes the response, when the command has one. */
  readonly response: Region | undefined;
}

/**
 * Frames `command` with `request` (any subset of its fields; the rest are
 * zero). `response` is the library's: a caller's value for it is refused
 * (ERR_INVALID_ARG_VALUE), as are unknown fields and out-of-range values,
 * all before any syscall.
 */
export function encodeCm(command: CmCommand, request: Input<CmCommand['request']>, scratch: Scratch): EncodedCm {
  if ((request as Record<string, unknown>).response !== undefined) {
    throw invalidArgValue(
      `${command.name} response`,
      'is set by the library',
      (request as { response: unknown }).response,
    );
  }
  const response = command.response ? scratch.take(command.response.size) : undefined;
  const buffer = scratch.take(rdma_ucm_cmd_hdr.size + command.request.size);
  const body: Record<string, unknown> = { ...request };
  if (response) body.response = response.address;
  encode(command.request, body as never, buffer.bytes, rdma_ucm_cmd_hdr.size);
  encode(
    rdma_ucm_cmd_hdr,
    { cmd: command.cmd, in: command.request.size, out: command.response?.size ?? 0 },
    buffer.bytes,
  );
  return { command, buffer, response };
}

/** The response the kernel wrote, decoded (a copy: nothing of the scratch memory escapes). */
export function decodeCm(encoded: EncodedCm): Record<string, unknown> | undefined {
  const { command, response } = encoded;
  if (!command.response || !response) return undefined;
  return decode(command.response, response.bytes);
}
