#!/bin/bash
# Usage: engine.sh start|stop|status|env v1|v2|v1only|all
# Runs Debian's dockerd as three lab engines side by side, started by hand (the
# lab machine has no init system):
#   v1      the cgroup layout the host gives (hybrid cgroup v1 on the lab machine)
#   v2      cgroup v2; also listens on /var/run/docker.sock, so plain `docker`
#           talks to it
#   v1only  cgroup v1 with no cgroup2 hierarchy beside it, as an older host has:
#           what a remote engine may be while the runner itself sees cgroup2
set -euo pipefail
# shellcheck source=scripts/lab/lib.sh
. "$(dirname "$0")/lib.sh"

LAB_START_TIMEOUT=${LAB_START_TIMEOUT:-60}
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-60}
DEFAULT_SOCK=/var/run/docker.sock

add_rule() {
  local table=$1; shift
  iptables -t "$table" -C "$@" 2>/dev/null || iptables -t "$table" -I "$@"
}

# Two dockerd on one host share the DOCKER* iptables chains, and each one
# flushes them when it starts: starting the second engine silently dropped the
# first engine's port mappings. So the engines run with --iptables=false and
# this sets up what they need instead: a bridge of their own and NAT plus
# forwarding for the engine's whole address range (default bridge and
# `docker network create` pool). Published ports still work, via docker-proxy.
ensure_network() {
  local engine=$1 bridge range
  bridge=$(engine_bridge "$engine")
  range=$(engine_range "$engine")
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  # Only the lab's address: dockerd takes the bridge's first address as the
  # default network's subnet.
  ip addr flush dev "$bridge" scope global
  ip addr add "$(engine_bip "$engine")" dev "$bridge"
  ip link set "$bridge" up
  sysctl -qw net.ipv4.ip_forward=1
  add_rule nat POSTROUTING -s "$range" ! -d "$range" -j MASQUERADE
  add_rule filter FORWARD -s "$range" -j ACCEPT
  add_rule filter FORWARD -d "$range" -j ACCEPT
}

# Engines that would clash with the lab's: dockerd adopts a running system
# containerd instead of starting its own (the v2 engine must own its
# containerd, inside its mount namespace), and the v2 engine takes over the
# default socket.
check_no_foreign_engine() {
  [ -S /run/containerd/containerd.sock ] &&
    die "a system containerd is running (/run/containerd/containerd.sock); stop it first"
  if [ "$1" = v2 ] && "$(docker_cli)" -H "unix://$DEFAULT_SOCK" info >/dev/null 2>&1; then
    die "another docker engine answers on $DEFAULT_SOCK (docker.service?); stop it first"
  fi
  return 0
}

dockerd_args() {
  local engine=$1
  printf '%s\n' -H "$(engine_host "$engine")" \
    --data-root "$LAB_DATA/$engine" --exec-root "$LAB_RUN/$engine/exec" \
    --pidfile "$(engine_pidfile "$engine")" \
    --bridge "$(engine_bridge "$engine")" \
    --default-address-pool "base=$(engine_pool "$engine"),size=24" \
    --iptables=false
  [ "$engine" = v2 ] && printf '%s\n' -H "unix://$DEFAULT_SOCK"
  return 0
}

# Starts dockerd in the background, in its own session so it outlives the
# caller's terminal; prints its pid.
spawn_dockerd() {
  local engine=$1 args
  mapfile -t args < <(dockerd_args "$engine")
  if [ "$engine" = v2 ]; then
    # The host mounts cgroup v1 at /sys/fs/cgroup (hybrid). In a private mount
    # namespace the engine sees the cgroup2 hierarchy there instead and runs
    # as a cgroup v2 engine; the host's own mounts stay untouched.
    setsid unshare -m --propagation private sh -c \
      'umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec dockerd "$@"' \
      dockerd "${args[@]}" </dev/null >>"$(engine_logfile "$engine")" 2>&1 &
  elif [ "$engine" = v1only ]; then
    # Without the unified mount in its namespace, runc puts containers in no
    # cgroup2 cgroup of their own: they stay where dockerd is, the root.
    setsid unshare -m --propagation private sh -c \
      'umount /sys/fs/cgroup/unified 2>/dev/null; exec dockerd "$@"' \
      dockerd "${args[@]}" </dev/null >>"$(engine_logfile "$engine")" 2>&1 &
  else
    setsid dockerd "${args[@]}" </dev/null >>"$(engine_logfile "$engine")" 2>&1 &
  fi
  echo $!
}

fail_start() {
  local engine=$1 pid=$2
  tail -n 30 "$(engine_logfile "$engine")" >&2
  kill "$pid" 2>/dev/null || true
  die "$engine: dockerd did not come up within ${LAB_START_TIMEOUT}s (log: $(engine_logfile "$engine"))"
}

wait_ready() {
  local engine=$1 pid=$2 deadline=$((SECONDS + LAB_START_TIMEOUT))
  until engine_answers "$engine"; do
    if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      fail_start "$engine" "$pid"
    fi
    sleep 0.5
  done
}

check_cgroup_version() {
  local engine=$1 want got
  case "$engine" in v2) want=2 ;; *) want=1 ;; esac
  got=$(lab_docker "$engine" info --format '{{.CgroupVersion}}')
  [ "$got" = "$want" ] && return 0
  # v1 is only what the host offers; a pure cgroup v2 host has no v1 to give.
  [ "$want" = 1 ] && { log "$engine: warning: engine reports cgroup v$got (host has no cgroup v1)"; return 0; }
  die "$engine: engine reports cgroup v$got, expected v$want"
}

# dockerd stores the default bridge's subnet in its data root and puts that
# address back on the bridge at start, whatever the bridge had. Catch a data
# root made with other addresses, or its containers would get no NAT.
check_subnet() {
  local engine=$1 got want
  want=$(engine_bip "$engine")
  got=$(lab_docker "$engine" network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}/{{.Subnet}}{{end}}')
  [ "${got%%/*}/${got##*/}" = "$want" ] ||
    die "$engine: default bridge is ${got#*/}, the lab wants $want; run: $0 stop $engine && rm -rf $LAB_DATA/$engine/network, then start again"
}

start_engine() {
  local engine=$1 pid start=$SECONDS
  if pid=$(engine_pid "$engine"); then
    wait_ready "$engine" "$pid"
    log "$engine: already running (pid $pid)"
    return 0
  fi
  check_no_foreign_engine "$engine"
  mkdir -p "$LAB_RUN/$engine" "$LAB_DATA/$engine" "$LAB_LOG"
  ensure_network "$engine"
  pid=$(spawn_dockerd "$engine")
  wait_ready "$engine" "$pid"
  check_cgroup_version "$engine"
  check_subnet "$engine"
  log "$engine: started (pid $pid) in $((SECONDS - start))s, $(engine_host "$engine")"
}

stop_engine() {
  local engine=$1 pid deadline=$((SECONDS + LAB_STOP_TIMEOUT))
  pid=$(engine_pid "$engine") || { log "$engine: not running"; return 0; }
  kill -TERM "$pid"
  while [ -d "/proc/$pid" ]; do
    if [ $SECONDS -ge $deadline ]; then
      log "$engine: dockerd $pid ignored SIGTERM for ${LAB_STOP_TIMEOUT}s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.5
  done
  rm -f "$(engine_pidfile "$engine")"
  log "$engine: stopped"
}

# Returns 3 when the engine is not running (like `systemctl status`).
status_engine() {
  local engine=$1 pid
  if ! pid=$(engine_pid "$engine"); then
    echo "$engine: stopped"
    return 3
  fi
  if ! engine_answers "$engine"; then
    echo "$engine: dockerd $pid runs but does not answer on $(engine_host "$engine")"
    return 3
  fi
  lab_docker "$engine" info --format \
    "$engine: running (pid $pid) $(engine_host "$engine") Cgroup Version: {{.CgroupVersion}}, Cgroup Driver: {{.CgroupDriver}}, {{.Images}} images, {{.ContainersRunning}} containers running"
}

[ $# -eq 2 ] || die "usage: $0 start|stop|status|env v1|v2|v1only|all"
action=$1
engines=$2
[ "$engines" = all ] && engines=$LAB_ENGINES
for engine in $engines; do check_engine "$engine"; done

case $action in
  env)
    [ "$2" != all ] || die "env needs one engine: v1, v2 or v1only"
    echo "DOCKER_HOST=$(engine_host "$engines")"
    ;;
  start|stop)
    require_root
    for engine in $engines; do "${action}_engine" "$engine"; done
    ;;
  status)
    rc=0
    for engine in $engines; do status_engine "$engine" || rc=$?; done
    exit $rc
    ;;
  *) die "unknown action '$action' (expected start, stop, status or env)" ;;
esac
