/**
 * The guest's /init (busybox sh). It:
 * 1. mounts proc, sys, devtmpfs and loads the modules in /modules.order;
 * 2. mounts the host root read-only over 9p (with proc, sysfs, debugfs where
 *    the kernel has it, devtmpfs), tmpfs on /tmp /run /var/tmp,
 *    the writable results share at /run/uverbs, and the caller's shares
 *    (listed in /run/uverbs/shares as "tag path ro|rw" lines);
 * 3. brings up lo and eth0 (10.0.2.15/24, QEMU user networking, restricted),
 *    the wire NICs of `--nodes 2` listed in /run/uverbs/wires ("MAC ADDR/PREFIX":
 *    the NIC with that MAC gets that address), and creates the RDMA links
 *    named in /run/uverbs/links ("rxe0 rxe" on eth0, or "rxe0 rxe MAC" on the
 *    NIC with that MAC);
 * 4. runs /run/uverbs/command in the chroot with stdout and stderr on the
 *    virtio-serial ports `uverbs.stdout` / `uverbs.stderr`;
 * 5. writes the exit status to /run/uverbs/status and powers off.
 * Anything that fails before the command is reported on the console with
 * an `uverbs-init:` prefix and leaves no status file.
 */

export const GUEST_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /tmp
say() { echo "uverbs-init: $*" >/dev/console; }
die() { say "FATAL: $*"; sync; poweroff -f; sleep 5; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "uverbs-init: start $(cut -d' ' -f1 /proc/uptime)" >/dev/console

while read -r ko; do
  [ -n "$ko" ] || continue
  insmod "$ko" 2>/tmp/insmod.err || say "insmod $ko: $(cat /tmp/insmod.err)"
done </modules.order

NINEP="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$NINEP,ro,cache=loose" uverbs.root /newroot || die "cannot mount the host root (9p)"
R=/newroot
mount -t proc proc $R/proc || die "mount proc"
mount -t sysfs sysfs $R/sys || die "mount sys"
# debugfs where the kernel has it (fault injection, KASAN and lockdep knobs); none is no failure
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t devtmpfs devtmpfs $R/dev || die "mount dev"
mkdir -p $R/dev/shm
for d in /tmp /run /var/tmp /dev/shm; do mount -t tmpfs -o mode=1777 tmpfs $R$d || die "tmpfs $d"; done
mkdir -p $R/run/uverbs
mount -t 9p -o "$NINEP,cache=none" uverbs.results $R/run/uverbs || die "cannot mount the results share"
if [ -f $R/run/uverbs/shares ]; then
  while read -r tag path mode; do
    [ -n "$tag" ] || continue
    # a share under the guest's own tmpfs (/tmp, /run, ...) needs its mountpoint made there
    [ -d "$R$path" ] || mkdir -p "$R$path" || die "cannot make a mountpoint for $path"
    if [ "$mode" = ro ]; then opts="$NINEP,ro,cache=loose"; else opts="$NINEP,cache=none"; fi
    mount -t 9p -o "$opts" "$tag" "$R$path" || die "cannot mount share $tag at $path"
  done <$R/run/uverbs/shares
fi

ip link set lo up
ip link set eth0 up || die "no eth0"
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2 dev eth0 2>/dev/null
# the NIC whose MAC is $1 (the wire NICs of --nodes 2 are found by the MAC the harness gave them)
nic_of() { for n in /sys/class/net/*; do [ "$(cat "$n/address")" = "$1" ] && { basename "$n"; return 0; }; done; return 1; }
if [ -f $R/run/uverbs/wires ]; then
  while read -r mac addr; do
    [ -n "$mac" ] || continue
    nic=$(nic_of "$mac") || die "no NIC with MAC $mac (wire)"
    ip link set "$nic" up || die "cannot bring up $nic"
    ip addr add "$addr" dev "$nic" || die "cannot give $nic $addr"
  done <$R/run/uverbs/wires
fi
if [ -f $R/run/uverbs/links ]; then
  while read -r name type mac; do
    [ -n "$name" ] || continue
    nic=eth0
    [ -z "$mac" ] || nic=$(nic_of "$mac") || die "no NIC with MAC $mac for $name"
    chroot $R rdma link add "$name" type "$type" netdev "$nic" || die "rdma link add $name type $type netdev $nic failed"
  done <$R/run/uverbs/links
fi

out=/dev/null; err=/dev/null
for p in /sys/class/virtio-ports/*; do
  [ -f "$p/name" ] || continue
  case "$(cat "$p/name")" in
    uverbs.stdout) out=/dev/$(basename "$p") ;;
    uverbs.stderr) err=/dev/$(basename "$p") ;;
  esac
done
[ "$out" != /dev/null ] || die "no uverbs.stdout port"

cut -d' ' -f1 /proc/uptime >$R/run/uverbs/started
sync
chroot $R /bin/sh /run/uverbs/command >"$out" 2>"$err" </dev/null
status=$?
cut -d' ' -f1 /proc/uptime >$R/run/uverbs/finished
dmesg >$R/run/uverbs/dmesg 2>/dev/null
echo $status >$R/run/uverbs/status
sync
poweroff -f
sleep 5
`;
