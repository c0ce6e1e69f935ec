/**
 * The QEMU command line of one guest. Every value that goes into one of
 * QEMU's option lists (`-fsdev local,id=x,path=...`, `-chardev`, `-device`,
 * `-netdev`, `-machine`, `-m`, `-smp`) goes through {@link qemuOptions},
 * which doubles its commas, QEMU's own escaping (util/qemu-option.c): a
 * directory named `x,path=/etc` stays one path and cannot add options.
 * `-kernel`, `-initrd` and `-append` are not option lists; QEMU takes them
 * verbatim, so they are not escaped.
 */

import { invalidArgValue } from '../errors.js';

/** A host directory exported to the guest over 9p. */
export interface GuestShare {
  tag: string;
  dir: string;
  readonly: boolean;
}

export interface QemuSpec {
  /** vmlinux (PVH boot) or vmlinuz. */
  kernel: string;
  initrd: string;
  /** The run directory: the results share (the guest's /run/uverbs), the console log, the output sockets. */
  run: string;
  shares: GuestShare[];
  memory: string;
  smp: number;
  /** With `uverbs vm --nodes 2`: the NICs on the virtual wires to the other node (nodes.ts). */
  wires?: WireNic[];
}

/**
 * One NIC on a wire between two guests: a `-netdev dgram` whose both ends are
 * unix sockets (`local` bound by this QEMU, `remote` bound by the peer's),
 * so its frames never reach the host's network stack.
 */
export interface WireNic {
  /** `eth1`'s MAC (the guest finds the NIC by it); distinct per node, or the wire would see one station twice. */
  mac: string;
  local: string;
  remote: string;
}

/** A value inside a QEMU option list, its commas doubled. */
export function qemuValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** `first,key=value,...` with every value escaped; keys are the harness's own. */
export function qemuOptions(first: string, properties: Record<string, string | number> = {}): string {
  const parts = [qemuValue(first)];
  for (const [key, value] of Object.entries(properties)) {
    if (!/^[a-z][\w.-]*$/.test(key)) throw invalidArgValue('properties', 'must have QEMU property names as keys', key);
    parts.push(`${key}=${qemuValue(String(value))}`);
  }
  return parts.join(',');
}

function share9p(id: string, dir: string, tag: string, readonly: boolean): string[] {
  return [
    '-fsdev',
    qemuOptions('local', {
      id,
      path: dir,
      security_model: readonly ? 'none' : 'mapped-xattr',
      multidevs: 'remap',
      ...(readonly ? { readonly: 'on' } : {}),
    }),
    '-device',
    qemuOptions('virtio-9p-pci', { fsdev: id, mount_tag: tag }),
  ];
}

export function qemuArgs(spec: QemuSpec): string[] {
  const { run } = spec;
  return [
    '-nodefaults',
    '-no-user-config',
    '-no-reboot',
    '-display',
    'none',
    '-machine',
    qemuOptions('pc', { accel: 'tcg' }),
    '-cpu',
    'max',
    '-smp',
    qemuValue(String(spec.smp)),
    '-m',
    qemuValue(spec.memory),
    '-kernel',
    spec.kernel,
    '-initrd',
    spec.initrd,
    '-append',
    'console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off',
    '-chardev',
    qemuOptions('file', { id: 'console', path: `${run}/console.log` }),
    '-serial',
    'chardev:console',
    '-device',
    qemuOptions('virtio-serial-pci', { id: 'vser' }),
    '-chardev',
    qemuOptions('socket', { id: 'out', path: `${run}/stdout.sock` }),
    '-device',
    qemuOptions('virtserialport', { bus: 'vser.0', chardev: 'out', name: 'uverbs.stdout' }),
    '-chardev',
    qemuOptions('socket', { id: 'err', path: `${run}/stderr.sock` }),
    '-device',
    qemuOptions('virtserialport', { bus: 'vser.0', chardev: 'err', name: 'uverbs.stderr' }),
    ...share9p('root', '/', 'uverbs.root', true),
    ...share9p('results', run, 'uverbs.results', false),
    ...spec.shares.flatMap((s, i) => share9p(`share${i}`, s.dir, s.tag, s.readonly)),
    // user networking with restrict=on: the guest reaches nothing outside
    '-netdev',
    qemuOptions('user', { id: 'n0', restrict: 'on' }),
    '-device',
    // no option ROM: PVH boot needs no network boot firmware
    qemuOptions('virtio-net-pci', { netdev: 'n0', romfile: '' }),
    ...(spec.wires ?? []).flatMap((w, i) => [
      '-netdev',
      qemuOptions('dgram', {
        id: `w${i}`,
        'local.type': 'unix',
        'local.path': w.local,
        'remote.type': 'unix',
        'remote.path': w.remote,
      }),
      '-device',
      qemuOptions('virtio-net-pci', { netdev: `w${i}`, mac: w.mac, romfile: '' }),
    ]),
  ];
}
