#!/usr/bin/env bash
# Builds a tiny Linux guest for tests and the demo: OUT_DIR/vmlinuz (Debian's
# 6.1 kernel), OUT_DIR/vmlinux (the same kernel uncompressed, for qemu's PVH
# boot) and OUT_DIR/initrd.img (busybox-static plus the disk and NIC drivers).
# Its /init prints `GUEST READY disk=<dev> boot=<boot-id> nics=<names>` once it
# finds the data disk, then writes a counter record per 100 ms to sector n of
# that disk (fsync'd) and prints COUNTER n on ttyS0. Debian packages are
# downloaded and unpacked here, never installed; no root needed once apt's
# lists exist.
#
#   scripts/guest/build-guest.sh OUT_DIR
#   qemu: -kernel OUT_DIR/vmlinux -initrd OUT_DIR/initrd.img -append "console=ttyS0 panic=-1 quiet"
#
# vmlinux boots several seconds sooner under TCG than vmlinuz, whose xz
# decompressor runs emulated; either works with -kernel.
#
# Cached: when the three files exist and OUT_DIR/stamp names this recipe, it exits at once.
# GUEST_KERNEL_PACKAGE=linux-image-6.1.0-NN-amd64 pins a kernel instead of the one
# behind linux-image-amd64.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
recipe="recipe $(sha256sum "$self" | cut -d' ' -f1) kernel=${GUEST_KERNEL_PACKAGE:-auto}"

if [ -f "$out/vmlinuz" ] && [ -f "$out/vmlinux" ] && [ -f "$out/initrd.img" ] && [ -f "$out/stamp" ] && [ "$(head -1 "$out/stamp")" = "$recipe" ]; then
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb cpio gzip xz; do
  command -v "$tool" >/dev/null || { echo "build-guest: '$tool' is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

kernel_pkg=${GUEST_KERNEL_PACKAGE:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')}
if [ -z "$kernel_pkg" ]; then
  echo "build-guest: apt knows no linux-image-amd64 (run apt-get update)" >&2
  exit 1
fi

echo "build-guest: downloading $kernel_pkg and busybox-static" >&2
# apt warns that its sandbox user cannot write a private temp dir; the download still works.
if ! (cd "$work" && apt-get download "$kernel_pkg" busybox-static >"$work/apt.log" 2>&1); then
  cat "$work/apt.log" >&2
  exit 1
fi
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"

modules_dir=$(echo "$work"/kernel/lib/modules/*)
kernel_version=$(basename "$modules_dir")
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,lib/modules}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"

# Module names use '_' where file names may use '-' (t10-pi.ko provides t10_pi).
declare -A module_path=()
while IFS= read -r -d '' f; do
  name=$(basename "$f")
  name=${name%%.ko*}
  module_path[${name//-/_}]=$f
done < <(find "$modules_dir" -name '*.ko*' -print0)

declare -A loaded=()
order=()

# Debian ships no modules.dep (depmod runs at install), so the dependencies are read from each module's modinfo.
module_depends() {
  local file=$1
  case "$file" in
    *.ko.xz) xz -dc "$file" ;;
    *.ko.zst) zstd -dcq "$file" ;;
    *.ko.gz) gzip -dc "$file" ;;
    *) cat "$file" ;;
  esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -1 | tr ',' ' '
}

add_module() {
  local name=${1//-/_} dep file
  [ -n "${loaded[$name]:-}" ] && return 0
  file=${module_path[$name]:-}
  if [ -z "$file" ]; then
    # Built into this kernel: nothing to load.
    grep -q "/${name//_/[-_]}\.ko" "$modules_dir/modules.builtin" && return 0
    echo "build-guest: module $name not found in $kernel_version" >&2
    exit 1
  fi
  loaded[$name]=1
  for dep in $(module_depends "$file"); do add_module "$dep"; done
  case "$file" in
    *.ko.xz) xz -dc "$file" >"$root/lib/modules/$name.ko" ;;
    *.ko.zst) zstd -dcq "$file" >"$root/lib/modules/$name.ko" ;;
    *.ko.gz) gzip -dc "$file" >"$root/lib/modules/$name.ko" ;;
    *) cp "$file" "$root/lib/modules/$name.ko" ;;
  esac
  order+=("$name")
}

# The crc providers first: t10-pi (a dependency of sd_mod) asks the crypto API for them, and no modprobe would load them.
for m in crct10dif_generic crc64_rocksoft_generic virtio_pci virtio_blk virtio_net e1000 ata_piix sd_mod; do
  add_module "$m"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/order"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The initramfs has no /dev/console node, so the kernel gave init no stdio.
exec </dev/console >/dev/console 2>&1

for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m.ko" || echo "GUEST insmod $m failed"
done

disk=""
tries=0
while [ -z "$disk" ]; do
  for d in /dev/vda /dev/sda; do
    if [ -b "$d" ]; then disk=$d; break; fi
  done
  if [ -z "$disk" ]; then
    tries=$((tries + 1))
    [ $((tries % 50)) -eq 0 ] && echo "GUEST waiting for a disk (/dev/vda or /dev/sda)"
    usleep 100000
  fi
done
boot_id=$(cat /proc/sys/kernel/random/boot_id)
# The NICs are listed, never brought up: a quiet guest keeps colo-compare from forcing checkpoints.
nics=$(ls /sys/class/net | grep -v '^lo$' | tr '\n' ',' | sed 's/,$//')
echo "GUEST READY disk=$disk boot=$boot_id nics=$nics"

# Record n lives in sector n, NUL-padded to 512 bytes; fsync so the write reaches qemu's block layer before the line is printed.
n=1
while :; do
  printf 'REC %d %s\n' "$n" "$boot_id" | dd of="$disk" bs=512 seek="$n" count=1 conv=notrunc,sync,fsync 2>/dev/null \
    || echo "GUEST write $n failed"
  echo "COUNTER $n"
  n=$((n + 1))
  usleep 100000
done
INIT
chmod 755 "$root/init"

# The payload of a bzImage is the compressed ELF kernel: find its stream by magic, as the kernel's extract-vmlinux does.
extract_vmlinux() {
  local image=$1 target=$2 magic tool offset
  for magic in $'\xfd7zXZ:xz' $'\x28\xb5\x2f\xfd:zstd'; do
    tool=${magic##*:}
    command -v "$tool" >/dev/null || continue
    for offset in $(LC_ALL=C grep -abo "${magic%:*}" "$image" | cut -d: -f1); do
      case "$tool" in
        xz) tail -c +$((offset + 1)) "$image" | xz -dcq --single-stream >"$target" 2>/dev/null || true ;;
        zstd) tail -c +$((offset + 1)) "$image" | zstd -dcq >"$target" 2>/dev/null || true ;;
      esac
      [ "$(head -c 4 "$target" | od -An -c | tr -d ' ')" = '177ELF' ] && return 0
    done
  done
  echo "build-guest: found no xz or zstd kernel inside $image" >&2
  exit 1
}

mkdir -p "$out"
cp "$work/kernel/boot/vmlinuz-$kernel_version" "$out/vmlinuz.tmp"
extract_vmlinux "$out/vmlinuz.tmp" "$out/vmlinux.tmp"
(cd "$root" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 >"$out/initrd.img.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/vmlinux.tmp" "$out/vmlinux"
mv "$out/initrd.img.tmp" "$out/initrd.img"
{
  echo "$recipe"
  echo "kernel $kernel_pkg ($kernel_version)"
  echo "busybox $(dpkg-deb -f "$work"/busybox-static_*.deb Version)"
  echo "modules ${order[*]}"
} >"$out/stamp"
echo "build-guest: $out/vmlinux, vmlinuz and initrd.img ($kernel_version, modules: ${order[*]})" >&2
