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

# On a hybrid host the cgroup2 hierarchy gives systemd a single writable tree
# rooted at the container's own cgroup, and is the only layout systemd 258+ accepts.
unified() {
  umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup &&
    info "v1 mounts replaced by the container's cgroup2 subtree"
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

find_systemd() {
  for candidate in /lib/systemd/systemd /usr/lib/systemd/systemd /sbin/init; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
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
  info "no systemd in this image (looked for /lib/systemd/systemd, /usr/lib/systemd/systemd, /sbin/init)"
  exit ${NO_SYSTEMD_EXIT}
}

case "$mode" in
  none) info "cgroup mount left as the engine made it" ;;
  remount-v2) remount_v2 || exit 1 ;;
  unified) unified || exit 1 ;;
  remount-v1)
    version=$(systemd_major "$init")
    if [ "$version" -ge 258 ]; then
      info "systemd $version refuses cgroup v1, and this host has no cgroup2 hierarchy"
      exit ${UNSUPPORTED_CGROUP_EXIT}
    fi
    remount_v1 || exit 1
    ;;
  *) info "unknown cgroup setup: $mode"; exit 2 ;;
esac

info "starting $init"
exec "$init" "$@"
`
