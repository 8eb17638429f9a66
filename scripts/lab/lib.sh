# shellcheck shell=bash disable=SC2034 # the variables are used by the callers
# Shared helpers for the test lab scripts. Source it from a bash script that
# runs with `set -euo pipefail`.

LAB_MIRROR=${LAB_MIRROR:-http://deb.debian.org/debian}
LAB_CACHE=/var/cache/systemd-container-lab
LAB_ROOTFS=$LAB_CACHE/rootfs
LAB_DATA=/var/lib/systemd-container-lab
LAB_RUN=/run/lab
LAB_LOG=/var/log/systemd-container-lab
LAB_ENGINES="v1 v2 v1only"
LAB_PACKAGES="docker.io debootstrap iptables iproute2 procps zstd"

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "$(basename "$0") must run as root (try: sudo $0)"
}

# Debian packages the lab needs; installs only the missing ones.
ensure_packages() {
  local pkg missing=()
  for pkg in $LAB_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt-get update -q -o Acquire::Retries=3
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Acquire::Retries=3 --no-install-recommends "${missing[@]}"
  # From trixie on, docker.io ships the engine alone; the client is docker-cli.
  if ! command -v docker >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-cli
  fi
}

# On a machine booted with systemd, installing docker.io starts Debian's own
# engine and containerd; the lab runs its engines itself, so stop those.
stop_packaged_engine() {
  [ -d /run/systemd/system ] || return 0
  local unit
  for unit in docker.socket docker.service containerd.service; do
    if systemctl is-active --quiet "$unit"; then
      log "stopping $unit: the lab starts its own engines"
      systemctl stop "$unit"
    fi
  done
}

rootfs_tar() { echo "$LAB_ROOTFS/$1.tar"; }

check_suite() {
  [ -e "/usr/share/debootstrap/scripts/$1" ] || die "unknown suite '$1' (debootstrap has no script for it)"
}

# --- engines ---------------------------------------------------------------
# Each engine gets its own bridge and subnets so both daemons can run at once.

check_engine() {
  case "$1" in v1|v2|v1only) ;; *) die "unknown engine '$1' (expected v1, v2 or v1only)" ;; esac
}

engine_sock()    { echo "$LAB_RUN/$1/docker.sock"; }
engine_host()    { echo "unix://$(engine_sock "$1")"; }
engine_pidfile() { echo "$LAB_RUN/$1/dockerd.pid"; }
engine_logfile() { echo "$LAB_LOG/dockerd-$1.log"; }
engine_bridge()  { echo "lab-$1"; }
# Each engine owns a /16: its default bridge (a /24 at the start) and the pool
# `docker network create` takes its subnets from (the upper half).
engine_octet()   { case "$1" in v1) echo 201 ;; v2) echo 202 ;; v1only) echo 203 ;; esac; }
engine_range()   { echo "10.$(engine_octet "$1").0.0/16"; }
engine_bip()     { echo "10.$(engine_octet "$1").0.1/24"; }
engine_pool()    { echo "10.$(engine_octet "$1").128.0/17"; }

docker_cli() { command -v docker || die "no docker CLI on PATH"; }

# Run the docker CLI against one lab engine: lab_docker v2 ps -a
lab_docker() {
  local engine=$1; shift
  "$(docker_cli)" -H "$(engine_host "$engine")" "$@"
}

engine_pid() {
  local pidfile pid
  pidfile=$(engine_pidfile "$1")
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] && echo "$pid"
}

engine_answers() { lab_docker "$1" info >/dev/null 2>&1; }

# --- root file systems -------------------------------------------------------

# The lab mirror is a frozen snapshot, so its Release files expire and
# `apt-get update` refuses them. Only the lab's images get this option; the
# product never sets it.
no_valid_until() {
  echo 'Acquire::Check-Valid-Until "false";' >"$1/etc/apt/apt.conf.d/99lab-no-check-valid-until"
}

# Removes a build tree without ever following a mount a failed debootstrap
# might have left inside it (proc, sys, dev).
remove_tree() {
  umount -R "$1/proc" "$1/sys" "$1/dev" 2>/dev/null || true
  rm -rf --one-file-system "$1"
}

# Usage: rootfs_tarball TAR CUSTOMIZE DEBOOTSTRAP_OPTION... SUITE
# Makes TAR from a debootstrap run unless a non-empty one is there already;
# CUSTOMIZE (a function name, or true) gets the tree before it is packed.
# A subshell: the lock and the cleanup trap end with it.
rootfs_tarball() (
  local tar=$1 customize=$2 dir tmp logfile start=$SECONDS
  shift 2
  logfile="$LAB_LOG/debootstrap-$(basename "$(dirname "$tar")")-$(basename "$tar" .tar).log"
  mkdir -p "$(dirname "$tar")" "$LAB_LOG"
  # A lock per tarball: a concurrent build of the same one waits, then reuses it.
  exec 9>"$tar.lock"
  flock 9
  if [ -s "$tar" ]; then
    log "cached $tar"
    return 0
  fi
  dir=$(mktemp -d "$LAB_CACHE/build.XXXXXX")
  tmp="$tar.tmp.$$"
  chmod 755 "$dir"   # becomes the image's /, mktemp made it 0700
  # shellcheck disable=SC2064 # expand now: the locals are gone at EXIT
  trap "remove_tree '$dir'; rm -f '$tmp'" EXIT
  log "debootstrap $* (log: $logfile)"
  # A second try for a download cut off halfway; debootstrap has no retries.
  if ! debootstrap "$@" "$dir" "$LAB_MIRROR" >"$logfile" 2>&1; then
    log "debootstrap $* failed once; trying again"
    remove_tree "$dir" && mkdir -m 755 "$dir"
    if ! debootstrap "$@" "$dir" "$LAB_MIRROR" >"$logfile" 2>&1; then
      tail -n 20 "$logfile" >&2
      die "debootstrap $* failed"
    fi
  fi
  no_valid_until "$dir"
  "$customize" "$dir"
  # Like Debian's official images: no package files, no package lists.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar --numeric-owner -C "$dir" -cf "$tmp" .
  mv "$tmp" "$tar"   # rename: an interrupted run never leaves a half tarball
  log "built $tar in $((SECONDS - start))s ($(du -h "$tar" | cut -f1))"
)
