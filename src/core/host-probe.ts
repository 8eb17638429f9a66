import { readFile } from 'node:fs/promises'

import { Docker, DockerError } from './docker.js'

/**
 * How cgroups are mounted: `v2` is the unified hierarchy alone, `hybrid` has
 * the v1 controllers with an (often empty) cgroup2 beside them, `v1` has no
 * cgroup2 hierarchy at all.
 */
export type CgroupLayout = 'v1' | 'hybrid' | 'v2'

/** What the engine says of itself in `docker info`. */
export interface EngineInfo {
  version: string
  major: number
  minor: number
  cgroupDriver: string
  cgroupVersion: 1 | 2
  /** The cgroup namespace mode the engine gives a container when none is asked for. */
  defaultCgroupns: 'private' | 'host'
  rootless: boolean
  apparmor: boolean
  selinux: boolean
  /** Containers keep running while the engine restarts. */
  liveRestore: boolean
  architecture: string
}

/** Everything the strategy choice needs to know about the host. */
export interface HostProbe {
  /** The layout containers will get: the engine's own view decides between v1 and v2. */
  cgroupLayout: CgroupLayout
  /** The layout seen from the runner's /proc/self/mountinfo. */
  runnerCgroupLayout: CgroupLayout
  engine: EngineInfo
  /** The engine accepts `--security-opt writable-cgroups=true` (Docker 28.0 and later). */
  writableCgroups: boolean
}

/** An engine that cannot be reached or understood. */
export class EngineError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EngineError'
  }
}

/**
 * Reads the cgroup layout from a mountinfo text: the file system type mounted at
 * /sys/fs/cgroup, and whether a cgroup2 hierarchy sits anywhere below it.
 */
export function parseCgroupLayout(mountinfo: string): CgroupLayout {
  let rootType: string | undefined
  let unifiedBelow = false

  for (const line of mountinfo.split('\n')) {
    const mount = parseMountinfoLine(line)
    if (!mount) continue
    if (mount.mountPoint === '/sys/fs/cgroup') rootType = mount.fsType
    else if (mount.mountPoint.startsWith('/sys/fs/cgroup/') && mount.fsType === 'cgroup2') {
      unifiedBelow = true
    }
  }

  if (rootType === 'cgroup2') return 'v2'
  return unifiedBelow ? 'hybrid' : 'v1'
}

/** Mount point and file system type of one /proc/PID/mountinfo line. */
function parseMountinfoLine(line: string): { mountPoint: string; fsType: string } | undefined {
  // Fields: id parent major:minor root mount-point options [optional...] - fstype source super-options
  const [before, after] = line.split(' - ')
  if (!after) return undefined
  const mountPoint = before.split(' ')[4]
  const fsType = after.split(' ')[0]
  return mountPoint && fsType ? { mountPoint: unescapeOctal(mountPoint), fsType } : undefined
}

function unescapeOctal(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8)))
}

/** Turns the JSON of `docker info --format '{{json .}}'` into EngineInfo. */
export function parseEngineInfo(json: string): EngineInfo {
  let info: Record<string, unknown>
  try {
    info = JSON.parse(json) as Record<string, unknown>
  } catch {
    throw new EngineError(`docker info did not return JSON: ${json.slice(0, 200)}`)
  }

  const serverErrors = info.ServerErrors as string[] | undefined
  if (serverErrors?.length) {
    throw new EngineError(`the Docker engine is unreachable: ${serverErrors.join('; ')}`)
  }

  const version = String(info.ServerVersion ?? '')
  const [major, minor] = version.split(/[.+-]/).map(part => parseInt(part, 10))
  if (!Number.isFinite(major)) {
    throw new EngineError(`the Docker engine reported no usable version (${version || 'none'})`)
  }

  const securityOptions = ((info.SecurityOptions as string[] | undefined) ?? []).map(option =>
    option.split(',')[0].replace(/^name=/, '')
  )

  return {
    version,
    major,
    minor: Number.isFinite(minor) ? minor : 0,
    cgroupDriver: String(info.CgroupDriver ?? 'cgroupfs'),
    cgroupVersion: String(info.CgroupVersion ?? '1') === '2' ? 2 : 1,
    defaultCgroupns: securityOptions.includes('cgroupns') ? 'private' : 'host',
    rootless: securityOptions.includes('rootless'),
    apparmor: securityOptions.includes('apparmor'),
    selinux: securityOptions.includes('selinux'),
    liveRestore: Boolean(info.LiveRestoreEnabled),
    architecture: String(info.Architecture ?? 'unknown')
  }
}

/** Docker 28.0 added `--security-opt writable-cgroups=true`. */
export function supportsWritableCgroups(engine: EngineInfo): boolean {
  return engine.cgroupVersion === 2 && engine.major >= 28
}

/**
 * Combines the engine's cgroup version with the runner's mounts: an engine on
 * cgroup v1 runs on a hybrid host when the runner sees a cgroup2 hierarchy too.
 */
export function effectiveCgroupLayout(engine: EngineInfo, runner: CgroupLayout): CgroupLayout {
  if (engine.cgroupVersion === 2) return 'v2'
  return runner === 'v1' ? 'v1' : 'hybrid'
}

/** Asks the engine and the runner's mounts what this host is. */
export async function probeHost(
  docker: Docker,
  mountinfoPath = '/proc/self/mountinfo'
): Promise<HostProbe> {
  const engine = parseEngineInfo(await engineInfoJson(docker))
  const runnerCgroupLayout = parseCgroupLayout(await readFile(mountinfoPath, 'utf8'))

  return {
    cgroupLayout: effectiveCgroupLayout(engine, runnerCgroupLayout),
    runnerCgroupLayout,
    engine,
    writableCgroups: supportsWritableCgroups(engine)
  }
}

async function engineInfoJson(docker: Docker): Promise<string> {
  try {
    return await docker.ok(['info', '--format', '{{json .}}'])
  } catch (error) {
    if (error instanceof DockerError) {
      throw new EngineError(
        `the Docker engine is unreachable (${error.result.stderr.trim().split('\n')[0]}); ` +
          'check that dockerd runs and that DOCKER_HOST, if set, points at it'
      )
    }
    if (/Unable to locate executable/.test((error as Error).message)) {
      throw new EngineError('the docker CLI is not installed on this runner')
    }
    throw error
  }
}

/** One line for the log: what was detected. */
export function describeHost(probe: HostProbe): string {
  const { engine } = probe
  const traits = [
    `cgroup ${probe.cgroupLayout}`,
    `engine ${engine.version}`,
    `${engine.cgroupDriver} driver`,
    `default cgroupns ${engine.defaultCgroupns}`,
    engine.rootless ? 'rootless' : 'rootful',
    engine.apparmor ? 'AppArmor' : undefined,
    engine.selinux ? 'SELinux' : undefined,
    probe.writableCgroups ? 'writable cgroups supported' : undefined
  ]
  return traits.filter(Boolean).join(', ')
}
