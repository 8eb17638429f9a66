import { setTimeout as sleep } from 'node:timers/promises'

import { Docker } from './docker.js'
import { inspectState } from './container.js'
import { Log } from './log.js'

/** systemd's answer once the boot is over. */
export type BootState = 'running' | 'degraded'

/** A booted systemd. */
export interface BootResult {
  state: BootState
  /** Seconds from the container's start until systemd reported the state. */
  seconds: number
  /** `systemd 252 (252.30-1~deb12u2)` reduced to `252`. */
  systemdVersion: string
  failedUnits: string[]
}

/** Why systemd did not come up; the container may still be there to look at. */
export class BootError extends Error {
  constructor(
    message: string,
    /** The container's exit code, when it exited. */
    readonly exitCode?: number
  ) {
    super(message)
    this.name = 'BootError'
  }
}

/** systemd was still starting when the boot timeout ran out. */
export class BootTimeout extends BootError {
  constructor(message: string) {
    super(message)
    this.name = 'BootTimeout'
  }
}

export interface BootOptions {
  timeoutSeconds: number
  pollMilliseconds?: number
}

/**
 * Waits until systemd reports `running` or `degraded`. No exec enters the
 * container before systemd has forked its first child: by then PID 1 has set
 * up its own cgroups, and an exec can no longer land in the root cgroup while
 * systemd is still moving itself into init.scope.
 */
export async function waitForBoot(
  docker: Docker,
  containerId: string,
  log: Log,
  options: BootOptions
): Promise<BootResult> {
  const started = Date.now()
  const deadline = started + options.timeoutSeconds * 1000
  const poll = options.pollMilliseconds ?? 100

  await waitForManager(docker, containerId, log, deadline, poll)
  const state = await waitForState(docker, containerId, log, deadline, poll)
  const seconds = (Date.now() - started) / 1000

  return {
    state,
    seconds,
    systemdVersion: await systemdVersion(docker, containerId),
    failedUnits: state === 'degraded' ? await failedUnits(docker, containerId) : []
  }
}

async function waitForManager(
  docker: Docker,
  containerId: string,
  log: Log,
  deadline: number,
  poll: number
): Promise<void> {
  let topFailures = 0

  while (Date.now() < deadline) {
    const state = await requireRunning(docker, containerId)
    const top = await docker.call(['top', containerId, '-o', 'pid,ppid,comm'])

    if (top.exitCode === 0) {
      if (managerHasForked(top.stdout, state.pid)) return
    } else if (++topFailures >= 3) {
      // docker top needs ps on the engine's host; without it, give systemd a
      // moment to set up its cgroups instead.
      log.warning(`docker top does not work here (${top.stderr.trim()}); waiting 3 s instead`)
      await sleep(3000)
      return
    }
    await sleep(poll)
  }
  throw new BootTimeout('systemd did not start within the boot timeout')
}

/**
 * True when the container's init is no longer the shim and has a child: the
 * output is `docker top ID -o pid,ppid,comm`, pids as the engine's host sees them.
 */
export function managerHasForked(topOutput: string, initPid: number): boolean {
  const rows = topOutput
    .trim()
    .split('\n')
    .slice(1)
    .map(line => line.trim().split(/\s+/))
  const init = rows.find(([pid]) => Number(pid) === initPid)
  if (!init || init[2] === 'sh') return false
  return rows.some(([, ppid]) => Number(ppid) === initPid)
}

async function waitForState(
  docker: Docker,
  containerId: string,
  log: Log,
  deadline: number,
  poll: number
): Promise<BootState> {
  let last = ''

  while (Date.now() < deadline) {
    await requireRunning(docker, containerId)
    const result = await docker.exec(containerId, ['systemctl', 'is-system-running'])
    const state = result.stdout.trim()

    if (state === 'running' || state === 'degraded') return state
    // Emergency or rescue mode, or a shutdown: no boot to wait for.
    if (state === 'maintenance' || state === 'stopping') {
      throw new BootError(`systemd is ${state} instead of booting`)
    }
    if (state && state !== last) log.debug(`systemd is ${state}`)
    last = state || last
    await sleep(poll)
  }
  throw new BootTimeout(
    `systemd did not finish booting within the boot timeout (last state: ${last || 'unknown'})`
  )
}

async function requireRunning(docker: Docker, containerId: string) {
  const state = await inspectState(docker, containerId)
  if (!state) {
    const engine = await docker.call(['version', '--format', '{{.Server.Version}}'])
    const gone = engine.exitCode === 0 ? 'the container disappeared' : 'the Docker engine stopped answering'
    throw new BootError(`${gone} while systemd was booting`)
  }
  if (!state.running) {
    throw new BootError(`the container exited with code ${state.exitCode} before systemd was up`, state.exitCode)
  }
  return state
}

/** The major version of the systemd running in the container. */
export async function systemdVersion(docker: Docker, containerId: string): Promise<string> {
  const result = await docker.exec(containerId, ['systemctl', '--version'])
  return parseSystemdVersion(result.stdout)
}

/** `systemd 252 (252.30-1~deb12u2)` → `252`; empty when unknown. */
export function parseSystemdVersion(output: string): string {
  return /^systemd (\d+)/m.exec(output)?.[1] ?? ''
}

/** Names of the units systemd reports as failed. */
export async function failedUnits(docker: Docker, containerId: string): Promise<string[]> {
  const result = await docker.exec(containerId, [
    'systemctl',
    'list-units',
    '--state=failed',
    '--plain',
    '--no-legend',
    '--no-pager'
  ])
  return result.stdout
    .split('\n')
    .map(line => line.trim().split(/\s+/)[0])
    .filter(Boolean)
}
