/**
 * Socket addresses as rdma_cm carries them: `struct sockaddr_in` /
 * `sockaddr_in6` inside a `struct __kernel_sockaddr_storage` (128 bytes),
 * with the size the kernel is told (`addr_size`, `src_size`, `dst_size`).
 * Parsed and checked here, before any syscall.
 */

import { isIPv4, isIPv6 } from 'node:net';
import { decode, encode } from '../abi/layout.js';
import { __kernel_sockaddr_storage, address_families, sockaddr_in, sockaddr_in6 } from '../abi/rdma-cm.js';
import { invalidArgType, invalidArgValue, outOfRange } from '../errors.js';

/** An IP address and port, as Node's `net` module spells them. */
export interface CmAddress {
  /** IPv4 dotted quad (`10.0.2.15`) or IPv6 (`fe80::1`, `::ffff:10.0.2.15`). */
  readonly address: string;
  /** 0 to 65535; 0 (the default) lets the kernel choose where it may. */
  readonly port?: number;
}

/** An address the kernel reported. */
export interface CmSocketAddress {
  readonly family: 'IPv4' | 'IPv6';
  readonly address: string;
  readonly port: number;
}

/** `address` as 128 bytes of `__kernel_sockaddr_storage` and the sockaddr's own size. */
export function encodeAddress(value: unknown, name: string): { storage: Uint8Array; size: number } {
  if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'an object { address, port }', value);
  const { address, port = 0 } = value as CmAddress;
  if (typeof address !== 'string') throw invalidArgType(`${name}.address`, 'a string', address);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw outOfRange(`${name}.port`, 'an integer from 0 to 65535', port);
  }
  const storage = new Uint8Array(__kernel_sockaddr_storage.size);
  if (isIPv4(address)) {
    encode(
      sockaddr_in,
      { sin_family: address_families.AF_INET, sin_port: port, sin_addr: ipv4Number(address) },
      storage,
    );
    return { storage, size: sockaddr_in.size };
  }
  if (isIPv6(address)) {
    encode(
      sockaddr_in6,
      { sin6_family: address_families.AF_INET6, sin6_port: port, sin6_addr: ipv6Bytes(address) },
      storage,
    );
    return { storage, size: sockaddr_in6.size };
  }
  throw invalidArgValue(`${name}.address`, 'must be an IPv4 or IPv6 address', address);
}

/** The `__kernel_sockaddr_storage` fields for `encode()`. */
export function storageFields(storage: Uint8Array): { ss_family: number; __data: Uint8Array } {
  return { ss_family: storage[0]! | (storage[1]! << 8), __data: storage.subarray(2) };
}

/** An address as the kernel wrote it; undefined for an empty one (family 0) or a family other than IP. */
export function decodeAddress(storage: Uint8Array): CmSocketAddress | undefined {
  const family = storage[0]! | (storage[1]! << 8);
  if (family === address_families.AF_INET) {
    const s = decode(sockaddr_in, storage);
    const a = s.sin_addr;
    return {
      family: 'IPv4',
      address: `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`,
      port: s.sin_port,
    };
  }
  if (family === address_families.AF_INET6) {
    const s = decode(sockaddr_in6, storage);
    return { family: 'IPv6', address: formatIpv6(s.sin6_addr), port: s.sin6_port };
  }
  return undefined;
}

function ipv4Number(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** RFC 4291 text to 16 bytes (`::` and a trailing dotted quad included); `isIPv6` has vouched for it. */
export function ipv6Bytes(address: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = address.split('%')[0] as string;
  const tail: number[] = [];
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const n = ipv4Number(quad[1] as string);
    tail.push((n >>> 16) & 0xffff, n & 0xffff);
    text = text.slice(0, -(quad[1] as string).length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const words = (s: string | undefined) =>
    (s ? s.split(':').filter((w) => w !== '') : []).map((w) => Number.parseInt(w, 16));
  const front = words(head);
  const back = [...words(rest), ...tail];
  const all =
    rest === undefined
      ? [...front, ...tail]
      : [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
  all.forEach((w, i) => {
    out[2 * i] = w >>> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** 16 bytes as IPv6 text, the longest run of zero words as `::`; IPv4-mapped as `::ffff:a.b.c.d`. */
export function formatIpv6(bytes: Uint8Array): string {
  const w = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLength))}`;
}
