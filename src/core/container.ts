import { readFile } from 'node:fs/promises'

import { Docker } from './docker.js'
import { CgroupLayout } from './host-probe.js'
import { refuseCgroupTreeMounts } from './mounts.js'
import { SHIM_SCRIPT } from './shim.js'
import { Strategy } from './strategy.js'

/** The label every container of this action carries. */
export const MANAGED_LABEL = 'io.github.systemd-container.managed'

/** Everything that decides how the container is run. */
export interface ContainerSpec {
  name: string
  image: string
  strategy: Strategy
  /** A host folder mounted at the same path inside, or none. */
  workspace?: string
  volumes: string[]
  env: string[]
  ports: string[]
  /** Extra `docker run` arguments, already split into argv elements. */
  options: string[]
  labels: Record<string, string>
}

/** How the container ended after a stop. */
export interface StopResult {
  /** systemd shut down by itself before the engine had to kill it. */
  clean: boolean
  exitCode: number
  seconds: number
}

/**
 * The argv of `docker create` for a systemd container, following systemd's
 * container interface: `container=docker`, tmpfs on /run and /run/lock, a
 * terminal for the boot messages and SIGRTMIN+3 to shut down.
 */
export function createArgs(spec: ContainerSpec): string[] {
  const args = ['create', '--tty', '--name', spec.name]

  for (const [key, value] of Object.entries({ [MANAGED_LABEL]: 'true', ...spec.labels })) {
    args.push('--label', `${key}=${value}`)
  }

  args.push('--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp')
  args.push('--env', 'container=docker', '--stop-signal', 'SIGRTMIN+3')
  args.push(...spec.strategy.runArgs)

  if (spec.workspace) args.push('--volume', `${spec.workspace}:${spec.workspace}`)
  for (const volume of spec.volumes) args.push('--volume', volume)
  for (const variable of spec.env) args.push('--env', variable)
  for (const port of spec.ports) args.push('--publish', port)
  args.push(...spec.options)

  args.push('--entrypoint', '/bin/sh', spec.image)
  args.push('-c', SHIM_SCRIPT, 'systemd-container-shim', spec.strategy.cgroupSetup)
  return args
}

/** A container the action refuses to start, or one the engine could not start. */
export class ContainerError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ContainerError'
  }
}

/**
 * Creates the container and hands its ID to `created` before starting it: a
 * container the engine made but could not start (a port in use, a bad mount)
 * is removed at once, or by the post step if this process dies first. Before
 * the start, the engine's own list of mounts is checked: however the options
 * were spelled, the host's cgroup tree never reaches the container.
 */
export async function startContainer(
  docker: Docker,
  spec: ContainerSpec,
  created: (id: string) => void
): Promise<string> {
  const id = await docker.ok(createArgs(spec))
  created(id)
  try {
    await refuseCgroupTreeMounts(docker, id)
    await docker.ok(['start', id]).catch((error: Error) => {
      throw new ContainerError(`${error.message}${startHint(spec, error.message)}`)
    })
  } catch (error) {
    await removeContainer(docker, id).catch(() => undefined)
    throw error
  }
  return id
}

function startHint(spec: ContainerSpec, message: string): string {
  if (spec.strategy.name === 'privileged' && /apply caps|operation not permitted/i.test(message)) {
    return "\nThis runner cannot grant a privileged container; strategy 'auto' needs no such privilege"
  }
  return ''
}

/** The engine's view of a container's state, or undefined when it is gone. */
export interface ContainerState {
  running: boolean
  exitCode: number
  pid: number
}

/** Reads the container's state from `docker inspect`. */
export async function inspectState(
  docker: Docker,
  containerId: string
): Promise<ContainerState | undefined> {
  const result = await docker.call(['inspect', '--format', '{{json .State}}', containerId])
  if (result.exitCode !== 0) return undefined

  const state = JSON.parse(result.stdout) as Record<string, unknown>
  return {
    running: Boolean(state.Running),
    exitCode: Number(state.ExitCode ?? 0),
    pid: Number(state.Pid ?? 0)
  }
}

/**
 * Stops the container through its stop signal (SIGRTMIN+3, a clean systemd
 * shutdown) and waits up to `timeoutSeconds` before the engine kills it.
 */
export async function stopContainer(
  docker: Docker,
  containerId: string,
  timeoutSeconds: number
): Promise<StopResult> {
  const started = Date.now()
  // -t: the short form every CLI knows (--time was renamed --timeout in 28).
  await docker.ok(['stop', '-t', String(timeoutSeconds), containerId])
  const seconds = (Date.now() - started) / 1000
  const state = await inspectState(docker, containerId)
  const exitCode = state?.exitCode ?? -1

  // 137 is SIGKILL: the engine gave up waiting for systemd.
  return { clean: exitCode !== 137 && seconds < timeoutSeconds, exitCode, seconds }
}

/** Removes the container and its anonymous volumes. */
export async function removeContainer(docker: Docker, containerId: string): Promise<void> {
  await docker.ok(['rm', '--force', '--volumes', containerId])
}

/**
 * The cgroup of the container's init as the host sees it in /proc/PID/cgroup:
 * the unified line wherever systemd runs on cgroup2 (v2 and hybrid hosts),
 * the name=systemd line on v1. Undefined when the engine's processes are not
 * visible from here (a remote engine).
 */
export async function initCgroup(pid: number, layout: CgroupLayout): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(`/proc/${pid}/cgroup`, 'utf8')
  } catch {
    return undefined
  }
  return parseProcCgroup(text, layout)
}

/** Picks the path that matters out of a /proc/PID/cgroup text. */
export function parseProcCgroup(text: string, layout: CgroupLayout): string | undefined {
  const lines = text.split('\n').filter(Boolean)
  const wanted = layout === 'v1' ? /^\d+:name=systemd:(.*)$/ : /^0::(.*)$/
  for (const line of lines) {
    const match = wanted.exec(line)
    if (match) return match[1]
  }
  return undefined
}

/**
 * True when a cgroup path lies under the given cgroup parent: the parent's
 * parts (one slice name, or a cgroupfs path) stand in the path in a row.
 */
export function underCgroupParent(path: string, cgroupParent: string): boolean {
  const parts = path.split('/').filter(Boolean)
  const parent = cgroupParent.split('/').filter(Boolean)
  return parts.some((_, at) => parent.every((part, offset) => parts[at + offset] === part))
}
