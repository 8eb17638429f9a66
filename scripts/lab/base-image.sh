#!/bin/bash
# Usage: base-image.sh SUITE [SUITE...]
# Makes a minimal Debian root file system per suite with debootstrap and keeps
# it as a tarball in the machine cache ($LAB_ROOTFS/SUITE.tar). A cached
# non-empty tarball is reused. Several suites are built two at a time.
set -euo pipefail
# shellcheck source=scripts/lab/lib.sh
. "$(dirname "$0")/lib.sh"

PARALLEL=2   # at most two debootstraps at once (the lab machine has 2 cores)

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

build_suite() {
  local suite=$1 tar dir tmp start=$SECONDS
  tar=$(rootfs_tar "$suite")
  check_suite "$suite"
  mkdir -p "$LAB_ROOTFS" "$LAB_LOG"
  # A lock per suite: a concurrent run for the same suite waits, then reuses.
  exec 9>"$LAB_ROOTFS/.$suite.lock"
  flock 9
  if [ -s "$tar" ]; then
    log "$suite: cached $tar"
    return 0
  fi
  dir=$(mktemp -d "$LAB_CACHE/build-$suite.XXXXXX")
  tmp="$tar.tmp.$$"
  chmod 755 "$dir"   # becomes the image's /, mktemp made it 0700
  # shellcheck disable=SC2064 # expand now: the locals are gone at EXIT
  trap "remove_tree '$dir'; rm -f '$tmp'" EXIT
  log "$suite: debootstrap (log: $LAB_LOG/debootstrap-$suite.log)"
  if ! debootstrap --variant=minbase "$suite" "$dir" "$LAB_MIRROR" >"$LAB_LOG/debootstrap-$suite.log" 2>&1; then
    tail -n 20 "$LAB_LOG/debootstrap-$suite.log" >&2
    die "$suite: debootstrap failed"
  fi
  no_valid_until "$dir"
  # Like Debian's official images: no package files, no package lists.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar --numeric-owner -C "$dir" -cf "$tmp" .
  mv "$tmp" "$tar"   # rename: an interrupted run never leaves a half tarball
  log "$suite: built $tar in $((SECONDS - start))s ($(du -h "$tar" | cut -f1))"
}

[ $# -ge 1 ] || die "usage: $0 SUITE [SUITE...]"
require_root
if [ $# -eq 1 ]; then
  build_suite "$1"
else
  # One child per suite; xargs fails (123) if any child failed.
  printf '%s\n' "$@" | xargs -n 1 -P "$PARALLEL" "$0"
fi
