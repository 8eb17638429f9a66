#!/bin/bash
# Usage: [LAB_SUITES="bookworm ..."] setup.sh
# Sets up a Debian machine for the whole test suite: packages, base images,
# both lab engines, and the images loaded into each. Safe to run again: every
# step keeps what is already there.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=scripts/lab/lib.sh
. "$here/lib.sh"

LAB_SUITES=${LAB_SUITES:-bullseye bookworm trixie sid}

step() { printf '==> %s\n' "$*"; }

require_root
step "packages: $LAB_PACKAGES"
ensure_packages
stop_packaged_engine
step "base images: $LAB_SUITES"
# shellcheck disable=SC2086 # a list of suite names
"$here/base-image.sh" $LAB_SUITES
step "engines: $LAB_ENGINES"
"$here/engine.sh" start all
for engine in $LAB_ENGINES; do
  step "images into $engine"
  # shellcheck disable=SC2086
  "$here/load-images.sh" "$engine" $LAB_SUITES
done
step "ready: plain docker uses v2; for v1: export $("$here/engine.sh" env v1)"
