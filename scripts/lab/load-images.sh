#!/bin/bash
# Usage: load-images.sh v1|v2|v1only SUITE...
# Imports cached base root file systems (see base-image.sh) into a lab engine
# as debian:SUITE. Images already in the engine are kept as they are.
set -euo pipefail
# shellcheck source=scripts/lab/lib.sh
. "$(dirname "$0")/lib.sh"

load_image() {
  local engine=$1 suite=$2 tar start=$SECONDS
  tar=$(rootfs_tar "$suite")
  if lab_docker "$engine" image inspect "debian:$suite" >/dev/null 2>&1; then
    log "$engine: debian:$suite present"
    return 0
  fi
  [ -s "$tar" ] || die "no cached root file system for $suite; run: $(dirname "$0")/base-image.sh $suite"
  # CMD like Debian's official images, so `docker run -it debian:SUITE` works.
  lab_docker "$engine" import --change 'CMD ["bash"]' "$tar" "debian:$suite" >/dev/null
  log "$engine: debian:$suite imported in $((SECONDS - start))s"
}

[ $# -ge 2 ] || die "usage: $0 v1|v2|v1only SUITE..."
engine=$1; shift
check_engine "$engine"
engine_answers "$engine" || die "engine $engine is not running; run: $(dirname "$0")/engine.sh start $engine"
for suite in "$@"; do load_image "$engine" "$suite"; done
