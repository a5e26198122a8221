#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the guest's initramfs, run by busybox sh; guest.sh packs it.
# Mounts the host's root read-only over 9p, gives it the guest's own /proc,
# /sys, /dev, /tmp, /run, /dev/shm and /dev/mqueue, chroots into it and
# runs run.sh from the writable output share. Then records the exit status,
# kmemleak's report and the kernel log in that share and ends the guest.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys

# QEMU runs with -no-reboot: a reboot ends it, and needs no ACPI.
end() {
	sync
	reboot -f
}
fail() {
	echo "guest: $*"
	end
}
secs() { cut -d' ' -f1 /proc/uptime; }

# The 9p modules, numbered in load order (none when built in).
for m in /lib/modules/*.ko; do
	[ -e "$m" ] || break
	insmod "$m" || fail "insmod $m failed"
done

p9=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /host /out
# The host does not change the files a run reads: cache them.
mount -t 9p -o "$p9,cache=loose,ro" hostroot /host ||
	fail "cannot mount the host's root (9p tag hostroot)"
mount -t 9p -o "$p9" out /out || fail "cannot mount the output share (9p tag out)"
out=$(cat /out/mountpoint)

h=/host
mount -t proc proc $h/proc &&
	mount -t sysfs sys $h/sys &&
	mount -t debugfs debugfs $h/sys/kernel/debug &&
	mount -t devtmpfs dev $h/dev &&
	mkdir -p $h/dev/shm $h/dev/mqueue &&
	mount -t tmpfs -o mode=1777 shm $h/dev/shm &&
	mount -t mqueue mqueue $h/dev/mqueue &&
	mount -t tmpfs -o mode=1777 tmp $h/tmp &&
	mount -t tmpfs -o mode=755 run $h/run &&
	mount -o bind /out "$h$out" ||
	fail "cannot set up the mounts inside the host's root"
ip link set lo up
leaks=$h/sys/kernel/debug/kmemleak
# kmemleak's own thread would scan all of the guest's memory every 10
# minutes, beside the tests (about half a minute of a vCPU each under
# TCG): the two scans at the end find every leak that is still one.
[ ! -e $leaks ] || echo scan=off >$leaks

# Trouble in the kernel's log before the command (which loads the module)
# is the kernel's or the emulator's, not the project's: end without running
# the command, and guest.sh boots the guest again, once.
if dmesg | grep -E -f /kernel-trouble.txt; then
	fail "the kernel reported trouble while booting (lines above), before the command: not running it"
fi
echo "guest: $(uname -r) up after $(secs) s, running the command"
chroot $h /usr/bin/env -i /bin/bash "$out/run.sh" </dev/null
status=$?
echo $status >/out/status
echo "guest: command exited with $status at $(secs) s"

if [ -e $leaks ]; then
	# kmemleak reports nothing younger than 5 s, and is only sure of a leak
	# on its second scan.
	sleep 5
	echo scan >$leaks && echo scan >$leaks && cat $leaks >/out/kmemleak.txt
fi
dmesg >/out/dmesg.txt
end
