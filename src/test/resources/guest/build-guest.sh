#!/usr/bin/env bash
# Builds a small Debian 12 Linux guest for the boot tests, from Debian packages and without mounting anything:
#   OUT/vmlinuz     the kernel of linux-image-amd64 (apt-get download, dpkg -x)
#   OUT/vmlinux     the same kernel uncompressed (an ELF with a PVH entry note): `qemu -kernel vmlinux` starts it
#                   directly, without the ~2.5 s its xz decompression takes under TCG
#   OUT/initrd.img  busybox-static + the virtio/ext4 modules (depmod -b, modprobe -d --show-depends); its /init
#                   loads them, mounts /dev/vda (ext4) read-write and switch_roots into /sbin/sluice-init
#   OUT/rootfs.img  raw ext4 disk of SIZE_MIB (mkfs.ext4 -d) holding `debootstrap --variant=minbase bookworm`
#                   and /sbin/sluice-init, which writes /root/sluice-written (the nonce of sluice.nonce= on the
#                   kernel command line), syncs, prints "SLUICE-GUEST-READY <nonce>" on the console, powers off
# Usage: build-guest.sh OUT SIZE_MIB   (as root; needs network access to a Debian mirror)
# Callers cache OUT keyed by a hash of this file: change the file and the guest is rebuilt.
set -euo pipefail
OUT=$1
SIZE_MIB=$2
MIRROR=${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
for tool in debootstrap busybox mkfs.ext4 depmod modprobe cpio gzip xz apt-get dpkg readelf; do
  command -v "$tool" >/dev/null || { echo "build-guest: $tool missing (scripts/setup-debian.sh)" >&2; exit 2; }
done
WORK=$(mktemp -d "${OUT%/}.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# --- kernel and modules ---
mkdir -p "$WORK/debs" "$WORK/kernel"
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
(cd "$WORK/debs" && apt-get download -q linux-image-amd64 "$KPKG" >/dev/null 2>&1)
for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/kernel"; done
KVER=$(ls "$WORK/kernel/lib/modules" | head -1)
depmod -b "$WORK/kernel" "$KVER"
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$OUT/vmlinuz.tmp"
# The bzImage's payload is an xz stream (as the kernel's scripts/extract-vmlinux finds it): try each xz magic.
for pos in $(LC_ALL=C grep -abo $'\xfd7zXZ' "$OUT/vmlinuz.tmp" | cut -d: -f1); do
  tail -c +$((pos + 1)) "$OUT/vmlinuz.tmp" | xz -dcq >"$WORK/vmlinux" 2>/dev/null || true
  readelf -h "$WORK/vmlinux" >/dev/null 2>&1 && break
done
# PVH entry: the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 0x12); qemu's -kernel loads such an ELF itself
readelf -n "$WORK/vmlinux" >"$WORK/notes" 2>&1 || true
grep -q 'Xen.*(0x00000012)' "$WORK/notes" || { echo "build-guest: no PVH entry in the uncompressed kernel" >&2; exit 1; }
cp "$WORK/vmlinux" "$OUT/vmlinux.tmp"

# --- initrd: busybox and the modules a virtio ext4 root needs, in dependency order ---
I=$WORK/initrd
mkdir -p "$I"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$I/bin/busybox"
for applet in sh mount umount insmod mkdir sleep switch_root echo cat ls mknod; do ln -s busybox "$I/bin/$applet"; done
for mod in virtio_pci virtio_blk crc32c_generic ext4; do   # one at a time: further names would be parameters
  modprobe -d "$WORK/kernel" -S "$KVER" --show-depends "$mod"
done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' | grep -v '/crc32c-intel\.ko' >"$WORK/modules.list"
# (crc32c-intel: a soft dependency that needs SSE4.2, which qemu's default TCG CPU lacks: its insmod only fails, slowly)
n=0
while read -r ko; do
  n=$((n + 1))
  name=$(printf '%02d-%s' "$n" "$(basename "${ko%.xz}")")
  case "$ko" in
    *.xz) xz -dc "$ko" >"$I/modules/$name" ;;
    *) cp "$ko" "$I/modules/$name" ;;
  esac
done <"$WORK/modules.list"
cat >"$I/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /modules/*.ko; do insmod "$m" 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo SLUICE-GUEST-NO-ROOT; echo o >/proc/sysrq-trigger; }
umount /sys /proc
mount -o move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/sluice-init
EOF
chmod 755 "$I/init"
(cd "$I" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initrd.img.tmp"

# --- root file system: debootstrap minbase, unprivileged-style (no mounts), into an ext4 image ---
R=$WORK/root
debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*
cat >"$R/sbin/sluice-init" <<'EOF'
#!/bin/bash
# PID 1 of the test guest: a little real work on the root disk, a write, the ready marker, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
nonce=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^sluice.nonce=//p')
packages=$(dpkg-query -W | wc -l)
echo "SLUICE-GUEST-WROTE-$nonce $(date -u +%s) $packages packages" >/root/sluice-written
sync
echo "SLUICE-GUEST-READY $nonce ($packages packages)" >/dev/console
echo o >/proc/sysrq-trigger
sleep 10
EOF
chmod 755 "$R/sbin/sluice-init"
rm -f "$OUT/rootfs.img.tmp"
mkfs.ext4 -q -F -L sluice-root -E lazy_itable_init=0,lazy_journal_init=0 -d "$R" "$OUT/rootfs.img.tmp" "${SIZE_MIB}M"

mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
mv "$OUT/rootfs.img.tmp" "$OUT/rootfs.img"
echo "build-guest: kernel $KVER, $(wc -l <"$WORK/modules.list") modules, root $(du -sh "$R" | cut -f1) in a ${SIZE_MIB} MiB ext4 image"
