/**
 * Legacy write() and extended write-ex framing (uverbs_main.c, ib_uverbs_write
 * and verify_hdr):
 *
 * legacy:   ib_uverbs_cmd_hdr | request (starts with `response` u64) | UHW in
 *           in_words  = whole buffer / 4, header included
 *           out_words = (response struct + UHW out) / 4
 * extended: ib_uverbs_cmd_hdr | ib_uverbs_ex_cmd_hdr | request | UHW in
 *           command  |= IB_USER_VERBS_CMD_FLAG_EXTENDED
 *           in_words  = request / 8, out_words = response / 8 (headers excluded)
 *           provider_in_words / provider_out_words = UHW / 8
 *
 * The response (and UHW out right after it) is written by the kernel into
 * scratch memory; an extended response is trusted only up to its own
 * `response_length`.
 */

import { outOfRange } from '../errors.js';
import type { Region, Scratch } from '../transport/memory.js';
import { ib_user_verbs_defines } from './constants.js';
import { decode, decodeVouched, encode, type Input } from './layout.js';
import { ib_uverbs_cmd_hdr, ib_uverbs_ex_cmd_hdr } from './structs.js';
import type { WriteCommand } from './write-commands.js';

const { IB_USER_VERBS_CMD_FLAG_EXTENDED } = ib_user_verbs_defines;

export interface WriteOptions {
  /** Driver (UHW) input appended after the request. */
  udataIn?: Uint8Array;
  /** Bytes of driver (UHW) output to make room for after the response. */
  udataOutLength?: number;
}

export interface EncodedWrite {
  readonly command: WriteCommand;
  /** The whole buffer to write(2). */
  readonly buffer: Region;
  /** The response struct followed by the UHW output. */
  readonly response: Region | undefined;
  readonly responseLength: number;
}

function checkMultiple(name: string, value: number, unit: number): void {
  if (value % unit !== 0) throw outOfRange(name, `a multiple of ${unit}`, value);
}

/** Frames a write / write-ex command; throws RangeError before any syscall for sizes the kernel would refuse. */
export function encodeWrite(
  command: WriteCommand,
  request: Input<WriteCommand['request']>,
  scratch: Scratch,
  options: WriteOptions = {},
): EncodedWrite {
  const udataIn = options.udataIn ?? new Uint8Array(0);
  const udataOut = options.udataOutLength ?? 0;
  if ((udataIn.byteLength > 0 || udataOut > 0) && !command.udata) {
    throw outOfRange(`${command.name} driver data`, 'empty: this command takes no UHW', udataIn.byteLength + udataOut);
  }
  for (const [field, least] of Object.entries(command.least ?? {})) {
    const value = (request as Record<string, unknown>)[field];
    if (typeof value !== 'number' || value < least) throw outOfRange(`${command.name} ${field}`, `>= ${least}`, value);
  }
  if (!Number.isSafeInteger(udataOut) || udataOut < 0) {
    throw outOfRange(`${command.name} udataOutLength`, 'a non-negative integer', udataOut);
  }
  const unit = command.extended ? 8 : 4;
  checkMultiple(`${command.name} udataIn.byteLength`, udataIn.byteLength, unit);
  checkMultiple(`${command.name} udataOutLength`, udataOut, unit);
  const responseLength = (command.response?.size ?? 0) + udataOut;
  const response = responseLength > 0 ? scratch.take(responseLength) : undefined;

  const hdrs = ib_uverbs_cmd_hdr.size + (command.extended ? ib_uverbs_ex_cmd_hdr.size : 0);
  const total = hdrs + command.request.size + udataIn.byteLength;
  const words = command.extended ? command.request.size / 8 : total / 4;
  if (words > 0xffff) throw outOfRange(`${command.name} in_words`, '<= 65535', words);
  const buffer = scratch.take(total);
  const body: Record<string, unknown> = { ...request };
  if (!command.extended && command.response) body.response = response?.address ?? 0n;
  encode(command.request, body as never, buffer.bytes, hdrs);
  buffer.bytes.set(udataIn, hdrs + command.request.size);
  encode(
    ib_uverbs_cmd_hdr,
    {
      command: command.extended ? (command.command | IB_USER_VERBS_CMD_FLAG_EXTENDED) >>> 0 : command.command,
      in_words: words,
      out_words: command.extended ? (command.response?.size ?? 0) / 8 : responseLength / 4,
    },
    buffer.bytes,
  );
  if (command.extended) {
    encode(
      ib_uverbs_ex_cmd_hdr,
      {
        response: response?.address ?? 0n,
        provider_in_words: udataIn.byteLength / 8,
        provider_out_words: udataOut / 8,
      },
      buffer.bytes,
      ib_uverbs_cmd_hdr.size,
    );
  }
  return { command, buffer, response, responseLength };
}

/** The response struct as the kernel vouched for it, and the UHW output after it. */
export function decodeWrite(encoded: EncodedWrite): {
  response: Record<string, unknown> | undefined;
  udataOut: Uint8Array;
} {
  const { command, response } = encoded;
  if (!command.response || !response) return { response: undefined, udataOut: new Uint8Array(0) };
  const size = command.response.size;
  const udataOut = response.bytes.slice(size);
  if (!command.extended) return { response: decode(command.response, response.bytes), udataOut };
  const lengthField = command.response.fields.response_length;
  const view = new DataView(response.bytes.buffer, response.bytes.byteOffset, response.bytes.byteLength);
  const vouched = lengthField ? view.getUint32(lengthField.offset, true) : size;
  return { response: decodeVouched(command.response, response.bytes, { length: vouched }), udataOut };
}
