/**
 * What the entrypoint shim prepares before systemd becomes PID 1:
 * - `none`: nothing, the engine already gives a writable cgroup mount;
 * - `remount-v2`: make the container's own cgroup2 mount writable;
 * - `unified`: on a hybrid host, replace the v1 mounts with the cgroup2
 *   hierarchy (systemd 258 and later refuse v1; older ones run on it too);
 * - `remount-v1`: on a host with no cgroup2 at all, make the v1 mounts writable.
 * Every mode works inside a private cgroup namespace, so what becomes
 * writable is the container's own subtree only.
 */
export type CgroupSetup = 'none' | 'remount-v2' | 'unified' | 'remount-v1'

/** The exit code of the shim when the image has no systemd to start. */
export const NO_SYSTEMD_EXIT = 127
/** The exit code of the shim when this systemd cannot run on the host's cgroups. */
export const UNSUPPORTED_CGROUP_EXIT = 78
/** Lines the shim prints start with this, so a diagnosis can find them. */
export const SHIM_PREFIX = 'systemd-container:'

/**
 * The shim itself: POSIX sh, given to `sh -c` as one argv element. It ends in
 * `exec`, so systemd is PID 1 and receives the stop signal itself.
 */
export const SHIM_SCRIPT = String.raw`
set -u
info() { echo "${SHIM_PREFIX} $*"; }

# docker mounts /sys/fs/cgroup read-only; CAP_SYS_ADMIN in a private cgroup
# namespace lets us make it writable without exposing the host's tree.
remount_v2() {
  if mount -o remount,rw /sys/fs/cgroup 2>/dev/null; then
    info "cgroup2 remounted read-write"
  else
    umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup &&
      info "cgroup2 mounted afresh read-write"
  fi
}

# The runner's mounts are no proof of the engine's host: a remote engine may run
# where there is no cgroup2 hierarchy at all, and an engine in a container may
# lack the unified mount. There runc gives the container no cgroup2 cgroup, and
# its cgroup namespace's root is the host's root cgroup or one it shares with
# others. A scratch mount tells: only the container's own has cgroup.type (the
# root lacks it) and no process outside the container (listed as pid 0).
# Returns 0 for a subtree of the container's own, 1 for any other, 2 where the
# kernel has no cgroup2; exits when the look itself fails.
own_cgroup2() {
  grep -qw cgroup2 /proc/filesystems || return 2
  scratch=/run/systemd-container-cgroup2
  if ! { mkdir -p "$scratch" && mount -t cgroup2 cgroup2 "$scratch"; }; then
    info "could not mount cgroup2 at $scratch to see whose subtree it is"
    exit 1
  fi
  found=1
  if [ -e "$scratch/cgroup.type" ] && ! grep -qx 0 "$scratch/cgroup.procs"; then
    found=0
  fi
  umount "$scratch" && rmdir "$scratch"
  return $found
}

# On a hybrid host the cgroup2 hierarchy gives systemd a single writable tree
# rooted at the container's own cgroup, and is the only layout systemd 258+ accepts.
unified() {
  umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup &&
    info "v1 mounts replaced by the container's cgroup2 subtree"
}

# On v1 mounts systemd adds the cgroup2 hierarchy at /sys/fs/cgroup/unified
# itself; where that root is not the container's own, a read-only tmpfs holds the
# place, and systemd runs on the v1 mounts alone.
fence_unified() {
  mkdir -p /sys/fs/cgroup/unified &&
    mount -t tmpfs -o ro,nosuid,nodev,noexec,mode=555 tmpfs /sys/fs/cgroup/unified &&
    info "cgroup2 kept out: its root here is not the container's own"
}

# Every v1 mount must be writable for systemd; the name=systemd one above all.
# docker makes them read-only bind mounts: the flag belongs to the bind mount,
# so "remount,bind,rw" clears it where a plain remount is refused.
remount_v1() {
  failed=''
  while read -r _ _ _ _ point _; do
    case "$point" in
      /sys/fs/cgroup|/sys/fs/cgroup/*)
        mount -o remount,bind,rw "$point" 2>/dev/null ||
          mount -o remount,rw "$point" 2>/dev/null ||
          failed="$failed $point" ;;
    esac
  done < /proc/self/mountinfo
  if [ -n "$failed" ]; then
    info "could not remount read-write:$failed"
    case "$failed " in *" /sys/fs/cgroup/systemd "*) return 1 ;; esac
  fi
  info "cgroup v1 mounts remounted read-write"
}

# /sbin/init counts only where it leads to systemd: sysvinit, OpenRC or
# busybox's init would boot, but never answer systemctl.
find_systemd() {
  for candidate in /lib/systemd/systemd /usr/lib/systemd/systemd; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  [ -x /sbin/init ] || return 1
  case "$(readlink -f /sbin/init 2>/dev/null)" in
    */systemd) echo /sbin/init ;;
    *) return 1 ;;
  esac
}

systemd_major() {
  set -- $("$1" --version 2>/dev/null | head -n 1)
  case "${'${2:-}'}" in
    ''|*[!0-9]*) echo 0 ;;
    *) echo "$2" ;;
  esac
}

mode="$1"
shift

init=$(find_systemd) || {
  info "no systemd in this image (looked for /lib/systemd/systemd, /usr/lib/systemd/systemd, and /sbin/init leading to systemd)"
  exit ${NO_SYSTEMD_EXIT}
}

# $1: what own_cgroup2 found; $version: the systemd's major version.
legacy_v1() {
  if [ "$version" -ge 258 ]; then
    info "systemd $version refuses cgroup v1, and this host has no cgroup2 hierarchy"
    exit ${UNSUPPORTED_CGROUP_EXIT}
  fi
  remount_v1 || exit 1
  if [ "$1" = 1 ]; then
    fence_unified || exit 1
  fi
}

case "$mode" in
  none) info "cgroup mount left as the engine made it" ;;
  remount-v2) remount_v2 || exit 1 ;;
  unified)
    own_cgroup2
    subtree=$?
    version=$(systemd_major "$init")
    if [ "$subtree" != 0 ]; then
      info "the engine gave this container no cgroup2 subtree of its own (a host with cgroup v1 alone, or a nested engine)"
      legacy_v1 "$subtree"
    elif [ "$version" -gt 0 ] && [ "$version" -lt 233 ]; then
      # Before 233 systemd cannot boot on cgroup2 alone (CentOS 7, Amazon Linux 2).
      info "systemd $version predates cgroup2-only hosts: the v1 mounts are kept"
      legacy_v1 0
    else
      unified || exit 1
    fi
    ;;
  remount-v1)
    own_cgroup2
    subtree=$?
    version=$(systemd_major "$init")
    legacy_v1 "$subtree"
    ;;
  *) info "unknown cgroup setup: $mode"; exit 2 ;;
esac

info "starting $init"
exec "$init" "$@"
`
