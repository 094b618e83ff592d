#!@BUSYBOX@ sh
# PID 1 of the lab kernel (User-Mode Linux), written by harvester_network/lab/uml.py.
# The root is the host's / over hostfs, read-only. Stage 1 puts a tmpfs overlay over it (the guest may write
# anywhere, the host stays untouched), mounts the shared read-write directory and pivots; stage 2 (the same
# script, re-run after the pivot) mounts /dev, /run... and runs the command, whose exit status goes to $RUN/rc.
# The runner fills in @BUSYBOX@ (the host's busybox); lab.* kernel parameters carry the paths.
BB=@BUSYBOX@
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "lab kernel init: $*" > /dev/console; echo "lab kernel init: $*" > /dev/tty2 2>/dev/null; }

params() {
  for x in $($BB cat /proc/cmdline); do
    case $x in
      lab.rw=*) RW=${x#lab.rw=} ;;
      lab.run=*) RUN=${x#lab.run=} ;;
      lab.mods=*) KMODS=${x#lab.mods=} ;;
    esac
  done
}

stage1() {
  $BB mount -t proc proc /proc
  $BB mount -t sysfs sys /sys
  params
  $BB insmod "$KMODS/kernel/fs/overlayfs/overlay.ko" || { say "insmod overlay from $KMODS failed"; $BB poweroff -f; }
  $BB mount -t tmpfs -o mode=0755 tmpfs /run
  $BB mkdir -p /run/ov/upper /run/ov/work /run/ov/root
  $BB mount -t overlay overlay -o lowerdir=/,upperdir=/run/ov/upper,workdir=/run/ov/work /run/ov/root ||
    { say "overlay over / failed"; $BB poweroff -f; }
  new=/run/ov/root
  $BB mount -t tmpfs -o mode=0755 tmpfs $new/run
  $BB mkdir -p $new/oldroot $new/lib/modules
  # modprobe looks under /lib/modules/<release>; the Debian package keeps the modules elsewhere
  $BB ln -sfn "$KMODS" "$new/lib/modules/$($BB uname -r)"
  for dir in "$RW" "$RUN"; do
    [ -n "$dir" ] || continue
    $BB mkdir -p "$new$dir" && $BB mount -t hostfs -o "$dir" none "$new$dir" || say "sharing $dir read-write failed"
  done
  $BB mount --move /proc $new/proc
  $BB mount --move /sys $new/sys
  $BB mount --move /dev $new/dev
  cd $new && $BB pivot_root . oldroot
  exec $BB chroot . "$BB" sh "$RUN/init" stage2
}

stage2() {
  params
  $BB umount -l /oldroot 2>/dev/null
  $BB mkdir -p /dev/pts /dev/shm
  $BB mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
  $BB ln -sf pts/ptmx /dev/ptmx
  $BB mount -t tmpfs tmpfs /dev/shm
  $BB ln -sfn /proc/self/fd /dev/fd
  $BB mount -t tmpfs tmpfs /var/tmp
  $BB mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
  # The kernel starts modprobe itself with a fixed environment, without GLIBC_TUNABLES (see uml.py): a wrapper
  # script (dash) puts it back.
  printf '#!/bin/sh\nGLIBC_TUNABLES=%s exec /sbin/modprobe "$@"\n' "$GLIBC_TUNABLES" > /run/modprobe
  $BB chmod 0755 /run/modprobe
  echo /run/modprobe > /proc/sys/kernel/modprobe
  # IPv6 is a module in this kernel: load it so /proc/sys/net/ipv6 exists, as on a real node
  /sbin/modprobe -q ipv6 2>/dev/null
  $BB hostname lab-kernel
  $BB ip link set lo up
  $BB stty -F /dev/tty1 -opost 2>/dev/null
  $BB stty -F /dev/tty2 -opost 2>/dev/null
  # The command writes to pipes (as on a CI runner), copied to console 1 (our stdout) and 2 (our stderr).
  { { /bin/sh "$RUN/cmd" < /dev/null; echo $? > "$RUN/rc"; } 2>&1 1>&3 | $BB cat > /dev/tty2; } 3>&1 | $BB cat > /dev/tty1
  $BB sync
  $BB poweroff -f
}

case "$1" in
  stage2) stage2 ;;
  *) stage1 ;;
esac
