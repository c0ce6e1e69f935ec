/**
 * `uverbs vm --nodes 2`: two guests of one kernel on virtual wires that
 * never touch the host's network.
 *
 * Each wire is a pair of unix datagram sockets in a private directory of the
 * run (QEMU's `-netdev dgram`, `local.type=unix` / `remote.type=unix`): node
 * 0 binds `wireW-node0.sock` and sends to `wireW-node1.sock`, node 1 the
 * reverse. No multicast group, no host address: a frame goes from one
 * QEMU's socket to the other's and nowhere else. Each guest keeps its
 * restricted user-net eth0 (10.0.2.15).
 *
 * rdma_cm picks the device by address, so each RDMA device gets a wire of
 * its own: with `--devs rxe,siw` rxe0 sits on the first wire NIC (subnet
 * 10.11.0.0/24) and siw0 on the second (10.12.0.0/24); node N has host
 * number N+1 on each. With no RDMA device there is one plain wire
 * (10.11.0.0/24).
 *
 * The command gets, besides what `uverbs vm` always sets:
 * - `UVERBS_NODE` (0 or 1) and `UVERBS_NODES` (2);
 * - `UVERBS_NODE_ADDR` / `UVERBS_PEER_ADDR`: this node's and the other
 *   node's address on the first wire (the one the barrier uses);
 * - per device, `UVERBS_NODE_ADDR_RXE0` / `UVERBS_PEER_ADDR_RXE0` and
 *   `UVERBS_NODE_ADDR_SIW0` / `UVERBS_PEER_ADDR_SIW0`: the addresses whose
 *   routes lead rdma_cm to that device.
 */

import { join } from 'node:path';
import type { WireNic } from './qemu.js';
import type { RdmaDevice } from './run.js';

/** The only multi-node count: two guests, one on each end of the wires. */
export const NODE_COUNT = 2;

/** The variables `--nodes` sets for the command; `--env` may not set them. */
export const NODE_ENV_NAMES = /^UVERBS_(NODE|NODES|NODE_ADDR|PEER_ADDR)(_[A-Z0-9]+)?$/;

/** The longest unix socket path (sun_path is 108 bytes with its NUL). */
const SUN_PATH_MAX = 107;

/** One wire: its subnet's third octet base, the RDMA device on it (if any). */
export interface Wire {
  /** 0, 1, ...: the wire's index; NIC `w${index}` in QEMU. */
  index: number;
  /** The RDMA link on this wire's NIC, e.g. `rxe0`; undefined for the plain wire of `--devs ''`. */
  link?: string;
  type?: RdmaDevice;
}

/** The wires for `devs`: one per RDMA device, in order, or one plain wire. */
export function nodeWires(devs: readonly RdmaDevice[]): Wire[] {
  if (devs.length === 0) return [{ index: 0 }];
  return devs.map((type, index) => ({ index, link: `${type}0`, type }));
}

/** Node `node`'s address on wire `wire`: 10.(11+wire).0.(node+1). */
export function nodeAddress(wire: number, node: number): string {
  return `10.${11 + wire}.0.${node + 1}`;
}

/** Node `node`'s MAC on wire `wire`: locally administered, distinct per node and wire. */
export function nodeMac(wire: number, node: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `52:54:00:0b:${hex(wire)}:${hex(node + 1)}`;
}

/** The socket node `node` binds for wire `wire`, under the run's private directory `dir`. */
export function wireSocket(dir: string, wire: number, node: number): string {
  return join(dir, `wire${wire}-node${node}.sock`);
}

/** The QEMU NICs of node `node`: on each wire, its own socket local and the peer's remote. */
export function nodeNics(dir: string, wires: readonly Wire[], node: number): WireNic[] {
  return wires.map((w) => {
    const local = wireSocket(dir, w.index, node);
    const remote = wireSocket(dir, w.index, 1 - node);
    if (Buffer.byteLength(local) > SUN_PATH_MAX || Buffer.byteLength(remote) > SUN_PATH_MAX) {
      throw new RangeError(
        `the wire socket path ${local} is longer than a unix socket allows (${SUN_PATH_MAX} bytes): set TMPDIR to a shorter directory`,
      );
    }
    return { mac: nodeMac(w.index, node), local, remote };
  });
}

/** The guest's /run/uverbs/wires: "MAC ADDR/24" per wire NIC. */
export function wiresFile(wires: readonly Wire[], node: number): string {
  return wires.map((w) => `${nodeMac(w.index, node)} ${nodeAddress(w.index, node)}/24\n`).join('');
}

/** The guest's /run/uverbs/links in nodes mode: each RDMA link on its wire's NIC, named by MAC. */
export function linksFile(wires: readonly Wire[], node: number): string {
  return wires
    .filter((w) => w.link !== undefined)
    .map((w) => `${w.link} ${w.type} ${nodeMac(w.index, node)}\n`)
    .join('');
}

/** The environment `--nodes` gives node `node`'s command. */
export function nodeEnv(wires: readonly Wire[], node: number): Record<string, string> {
  const peer = 1 - node;
  const env: Record<string, string> = {
    UVERBS_NODE: String(node),
    UVERBS_NODES: String(NODE_COUNT),
    UVERBS_NODE_ADDR: nodeAddress(0, node),
    UVERBS_PEER_ADDR: nodeAddress(0, peer),
  };
  for (const w of wires) {
    if (w.link === undefined) continue;
    env[`UVERBS_NODE_ADDR_${w.link.toUpperCase()}`] = nodeAddress(w.index, node);
    env[`UVERBS_PEER_ADDR_${w.link.toUpperCase()}`] = nodeAddress(w.index, peer);
  }
  return env;
}
