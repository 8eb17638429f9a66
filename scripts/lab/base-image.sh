#!/bin/bash
# Usage: base-image.sh SUITE [SUITE...]
# Makes a minimal Debian root file system per suite with debootstrap and keeps
# it as a tarball in the machine cache ($LAB_ROOTFS/SUITE.tar). A cached
# non-empty tarball is reused. Several suites are built two at a time.
set -euo pipefail
# shellcheck source=scripts/lab/lib.sh
. "$(dirname "$0")/lib.sh"

PARALLEL=2   # at most two debootstraps at once (the lab machine has 2 cores)

build_suite() {
  check_suite "$1"
  rootfs_tarball "$(rootfs_tar "$1")" true --variant=minbase "$1"
}

[ $# -ge 1 ] || die "usage: $0 SUITE [SUITE...]"
require_root
if [ $# -eq 1 ]; then
  build_suite "$1"
else
  # One child per suite; xargs fails (123) if any child failed.
  printf '%s\n' "$@" | xargs -n 1 -P "$PARALLEL" "$0"
fi
