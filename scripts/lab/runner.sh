#!/bin/bash
# Usage: runner.sh build|start|stop|exec SUITE [...]
#   build SUITE               root file system of a simulated GitHub runner,
#                             cached and imported into the v2 lab engine
#   start SUITE               boots it (systemd as PID 1, docker.service inside)
#   stop SUITE                removes the runner and its /var/lib/docker volume
#   exec SUITE [--root] CMD.. runs CMD inside, as `runner` unless --root
# SUITE: bookworm (engine 20.10), trixie (26.1) or sid (28.5).
#
# A simulated runner is what hosted Ubuntu runners give a job: systemd as
# PID 1, docker.service with the systemd cgroup driver on cgroup v2, and a
# `runner` user (uid 1001) with passwordless sudo in the docker group. It runs
# as a container on the v2 lab engine (see engine.sh), with the host's node
# and the checkout ($LAB_ACTION_DIR, read-only at /action) mounted in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

LAB_ACTION_DIR=${LAB_ACTION_DIR:-$(cd "$here/../.." && pwd)}
LAB_RUNNER_TIMEOUT=${LAB_RUNNER_TIMEOUT:-180}
LAB_RUNNER_CACHE=$LAB_CACHE/runner
# A host folder the runner user can write, mounted at /lab-share: tests put a
# job's GITHUB_OUTPUT, GITHUB_STATE and workspace there and read them back.
LAB_RUNNER_SHARE=$LAB_DATA/runner-share
ENGINE=v2
RUNNER_UID=1001
# The image every test of the action runs its systemd container from.
INNER_BASE_IMAGE=debian:bookworm
BASE_PACKAGES=systemd,systemd-sysv,dbus,docker.io,iptables,procps,sudo
RUNNER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

step() { printf '[runner %s] %s\n' "$suite" "$*"; }

# --- names -----------------------------------------------------------------

check_runner_suite() {
  case "$1" in bookworm|trixie|sid) ;; *) die "unknown runner suite '$1' (expected bookworm, trixie or sid)" ;; esac
  check_suite "$1"
}

runner_tar()       { echo "$LAB_RUNNER_CACHE/$1.tar"; }
runner_image()     { echo "lab-runner:$1"; }
runner_container() { echo "lab-runner-$1"; }
runner_volume()    { echo "lab-runner-$1-docker"; }
runner_share()     { echo "$LAB_RUNNER_SHARE/$1"; }

# Packages beyond the common set. From trixie on, Debian's docker.io ships only
# the engine and the client is its own package. docker-buildx: hosted runners
# have buildx, and without it the CLI falls back to the deprecated legacy
# builder; bookworm has no such package.
suite_packages() {
  case "$1" in
    bookworm) echo "$BASE_PACKAGES" ;;
    trixie|sid) echo "$BASE_PACKAGES,docker-cli,docker-buildx" ;;
  esac
}

# --- build -----------------------------------------------------------------

add_runner_user() {
  local dir=$1
  # docker.io's postinst created the docker group; docker exec -u runner
  # picks the supplementary groups up from /etc/group.
  chroot "$dir" useradd --create-home --uid "$RUNNER_UID" --shell /bin/bash --groups docker runner
  echo 'runner ALL=(ALL) NOPASSWD:ALL' >"$dir/etc/sudoers.d/runner"
  chmod 0440 "$dir/etc/sudoers.d/runner"
}

build_tarball() {
  rootfs_tarball "$(runner_tar "$1")" add_runner_user \
    --variant=minbase --include="$(suite_packages "$1")" "$1"
}

import_image() {
  local suite=$1 image start=$SECONDS
  image=$(runner_image "$suite")
  if lab_docker "$ENGINE" image inspect "$image" >/dev/null 2>&1; then
    step "image $image present"
    return 0
  fi
  # (import takes no STOPSIGNAL on engine 20.10: run_container sets it.)
  lab_docker "$ENGINE" import --change 'CMD ["/lib/systemd/systemd"]' \
    "$(runner_tar "$suite")" "$image" >/dev/null
  step "image $image imported in $((SECONDS - start))s"
}

build_runner() {
  build_tarball "$1"
  import_image "$1"
}

# --- start -----------------------------------------------------------------

# Docker on v2 gives the container a private cgroup namespace with
# /sys/fs/cgroup read-only; systemd must write there. The inner dockerd must
# write /proc/sys too: engine 28 fails to start containers ("failed to disable
# IPv6 on container's interface") while it is read-only.
ENTRY='umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && mount -o remount,rw /proc/sys && exec /lib/systemd/systemd'

node_binary() {
  local node
  node=$(command -v node) || die "no node on the host's PATH (the runner mounts the host's node)"
  # A bind mount of a symlink would mount its target path inside, which the
  # runner does not have: mount the file itself.
  readlink -f "$node"
}

run_container() {
  local suite=$1 node
  node=$(node_binary)
  mkdir -p "$(runner_share "$suite")"
  chmod 1777 "$(runner_share "$suite")"
  # docker run -v creates a missing host path as an empty folder: refuse first.
  [ -f "$LAB_ACTION_DIR/dist/index.js" ] || [ -f "$LAB_ACTION_DIR/package.json" ] ||
    die "LAB_ACTION_DIR=$LAB_ACTION_DIR does not look like the action's checkout"
  # Capabilities: SYS_ADMIN for the mounts of the entry and of inner
  # containers, NET_ADMIN for the inner engine's bridge and iptables,
  # SYS_PTRACE and MKNOD as the inner runc needs them. --privileged is not an
  # option on the lab machine (its bounding set lacks CAP_SYS_RESOURCE).
  # -t: systemd's boot messages reach `docker logs`. SIGRTMIN+3 is systemd's
  # halt in a container: `docker stop` shuts it down cleanly, no SIGKILL.
  lab_docker "$ENGINE" run -d -t --name "$(runner_container "$suite")" \
    --hostname "lab-runner-$suite" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE --cap-add MKNOD \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=private \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp -e container=docker \
    --stop-signal SIGRTMIN+3 \
    -v "$(runner_volume "$suite")":/var/lib/docker \
    -v "$node":/usr/local/bin/node:ro \
    -v "$LAB_ACTION_DIR":/action:ro \
    -v "$(runner_share "$suite")":/lab-share \
    --entrypoint /bin/sh "$(runner_image "$suite")" -c "$ENTRY" >/dev/null
}

container_running() {
  [ "$(lab_docker "$ENGINE" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}

fail_boot() {
  local container=$1
  lab_docker "$ENGINE" logs --tail 30 "$container" >&2 2>&1 || true
  die "$*"
}

# True once the container's PID 1 is systemd and has a child process. Reads
# the process table from the host (docker top), not by an exec: an exec
# while systemd is still setting up its cgroups can break the boot on v2.
# The child matters, not the comm alone: the entry's own mount commands are
# children of the shell before it execs systemd.
systemd_forked() {
  local container=$1 pid1
  pid1=$(lab_docker "$ENGINE" inspect -f '{{.State.Pid}}' "$container") || return 1
  lab_docker "$ENGINE" top "$container" -o pid,ppid,comm 2>/dev/null | awk -v p="$pid1" '
    $1 == p && $3 == "systemd" { init = 1 }
    $2 == p { child = 1 }
    END { exit !(init && child) }'
}

# wait_for DESCRIPTION CONTAINER COMMAND...: polls COMMAND until it succeeds,
# the container stops, or LAB_RUNNER_TIMEOUT passes.
wait_for() {
  local what=$1 container=$2 deadline=$((SECONDS + LAB_RUNNER_TIMEOUT)); shift 2
  until "$@"; do
    container_running "$container" || fail_boot "$container" "$container exited while waiting for $what"
    [ $SECONDS -lt $deadline ] || fail_boot "$container" "no $what within ${LAB_RUNNER_TIMEOUT}s"
    sleep 0.5
  done
}

system_state() {
  lab_docker "$ENGINE" exec "$1" systemctl is-system-running 2>/dev/null || true
}

# running or degraded: boot is over. degraded is accepted because a unit a
# container cannot run may fail; docker.service itself is checked next.
systemd_booted() {
  case "$(system_state "$1")" in running|degraded) return 0 ;; esac
  return 1
}

inner_docker_answers() {
  local container=$1
  lab_docker "$ENGINE" exec "$container" docker info >/dev/null 2>&1 && return 0
  # Fail fast with its journal rather than wait out the timeout.
  if lab_docker "$ENGINE" exec "$container" systemctl is-failed --quiet docker.service; then
    lab_docker "$ENGINE" exec "$container" journalctl -u docker.service -n 30 --no-pager >&2 || true
    die "$container: docker.service failed"
  fi
  return 1
}

# Images travel as a `docker save` stream: the inner engine reaches no
# registry either.
load_base_image() {
  local container=$1 start=$SECONDS
  if lab_docker "$ENGINE" exec "$container" docker image inspect "$INNER_BASE_IMAGE" >/dev/null 2>&1; then
    step "inner engine has $INNER_BASE_IMAGE"
    return 0
  fi
  lab_docker "$ENGINE" image inspect "$INNER_BASE_IMAGE" >/dev/null 2>&1 ||
    die "the $ENGINE engine has no $INNER_BASE_IMAGE; run: $here/load-images.sh $ENGINE ${INNER_BASE_IMAGE#*:}"
  lab_docker "$ENGINE" save "$INNER_BASE_IMAGE" |
    lab_docker "$ENGINE" exec -i "$container" docker load >/dev/null
  step "$INNER_BASE_IMAGE loaded into the inner engine in $((SECONDS - start))s"
}

start_runner() {
  local suite=$1 container start=$SECONDS t
  container=$(runner_container "$suite")
  engine_answers "$ENGINE" || die "engine $ENGINE is not running; run: $here/engine.sh start $ENGINE"
  build_runner "$suite"
  if container_running "$container"; then
    step "$container already running"
  else
    # A stopped one left from before: start afresh (its volume is kept).
    lab_docker "$ENGINE" rm -f "$container" >/dev/null 2>&1 || true
    run_container "$suite"
    step "container $container created"
  fi
  t=$SECONDS
  wait_for "fork by systemd" "$container" systemd_forked "$container"
  step "systemd is PID 1 and has forked ($((SECONDS - t))s)"
  t=$SECONDS
  wait_for "finished boot" "$container" systemd_booted "$container"
  step "systemd boot done: $(system_state "$container") ($((SECONDS - t))s)"
  t=$SECONDS
  wait_for "answer from the inner docker" "$container" inner_docker_answers "$container"
  step "inner docker answers ($((SECONDS - t))s)"
  load_base_image "$container"
  step "ready in $((SECONDS - start))s: $(lab_docker "$ENGINE" exec "$container" docker info --format \
    'engine {{.ServerVersion}}, Cgroup Driver: {{.CgroupDriver}}, Cgroup Version: {{.CgroupVersion}}')"
}

# --- stop, exec ------------------------------------------------------------

stop_runner() {
  local suite=$1 container volume
  container=$(runner_container "$suite")
  volume=$(runner_volume "$suite")
  if lab_docker "$ENGINE" inspect "$container" >/dev/null 2>&1; then
    # A clean halt first (STOPSIGNAL), so docker.service stops its containers.
    lab_docker "$ENGINE" stop -t 30 "$container" >/dev/null || true
    lab_docker "$ENGINE" rm -f "$container" >/dev/null
    step "container $container removed"
  else
    step "no container $container"
  fi
  if lab_docker "$ENGINE" volume inspect "$volume" >/dev/null 2>&1; then
    lab_docker "$ENGINE" volume rm "$volume" >/dev/null
    step "volume $volume removed"
  fi
}

exec_runner() {
  local suite=$1 container opts=(-i); shift
  container=$(runner_container "$suite")
  container_running "$container" || die "$container is not running; run: $0 start $suite"
  # The same guard as start: never be the exec that races systemd's boot.
  systemd_forked "$container" || die "$container: systemd has not started yet; run: $0 start $suite"
  [ -t 0 ] && [ -t 1 ] && opts+=(-t)
  if [ "${1:-}" = --root ]; then
    shift
  else
    # What a login shell of the runner user would have; docker exec -u alone
    # keeps root's HOME and the image's PATH.
    opts+=(-u runner -w /home/runner -e HOME=/home/runner -e USER=runner
           -e LOGNAME=runner -e SHELL=/bin/bash -e PATH="$RUNNER_PATH")
  fi
  [ $# -ge 1 ] || die "usage: $0 exec SUITE [--root] CMD..."
  exec "$(docker_cli)" -H "$(engine_host "$ENGINE")" exec "${opts[@]}" "$container" "$@"
}

# --- main ------------------------------------------------------------------

[ $# -ge 2 ] || die "usage: $0 build|start|stop|exec SUITE [...]"
action=$1
suite=$2
shift 2
check_runner_suite "$suite"
require_root "$action" "$suite" "$@"

case $action in
  build) build_runner "$suite" ;;
  start) start_runner "$suite" ;;
  stop)  stop_runner "$suite" ;;
  exec)  exec_runner "$suite" "$@" ;;
  *) die "unknown action '$action' (expected build, start, stop or exec)" ;;
esac
