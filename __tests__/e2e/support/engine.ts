import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

import { parseCgroupLayout } from '../../../src/core/host-probe.js'

const execFileAsync = promisify(execFile)

/** The lab's engines, started by scripts/lab/setup.sh. */
export const ENGINES = {
  v1: 'unix:///run/lab/v1/docker.sock',
  v2: 'unix:///run/lab/v2/docker.sock',
  v1only: 'unix:///run/lab/v1only/docker.sock'
} as const
export type EngineName = keyof typeof ENGINES

/** A docker CLI bound to one lab engine. */
export interface Engine {
  name: EngineName
  host: string
  docker(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>
  ok(args: string[]): Promise<string>
}

/**
 * Returns the lab engine, or throws: an end-to-end test never passes quietly
 * without its engine.
 */
export async function labEngine(name: EngineName): Promise<Engine> {
  const host = ENGINES[name]
  const docker = async (args: string[]) => {
    try {
      const { stdout, stderr } = await execFileAsync('docker', ['--host', host, ...args], {
        maxBuffer: 64 * 1024 * 1024
      })
      return { exitCode: 0, stdout, stderr }
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string }
      return { exitCode: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
    }
  }
  const ok = async (args: string[]) => {
    const result = await docker(args)
    if (result.exitCode !== 0) throw new Error(`docker ${args.join(' ')} failed: ${result.stderr}`)
    return result.stdout.trim()
  }

  const info = await docker(['info', '--format', '{{.CgroupVersion}}'])
  if (info.exitCode !== 0) {
    throw new Error(
      `lab engine ${name} does not answer at ${host}: run 'sudo scripts/lab/setup.sh' first\n${info.stderr}`
    )
  }
  return { name, host, docker, ok }
}

/**
 * Containers this test process's jobs left on the engine: the jobs run with
 * GITHUB_RUN_ID set to this process's pid, and the action labels by it.
 */
export async function managedContainers(engine: Engine): Promise<string[]> {
  const out = await engine.ok([
    'ps',
    '--all',
    '--quiet',
    '--filter',
    'label=io.github.systemd-container.managed=true',
    '--filter',
    `label=io.github.systemd-container.run-id=${process.pid}`
  ])
  return out.split('\n').filter(Boolean)
}

/** The cgroup hierarchies as mounted in this (the host's) mount namespace. */
async function cgroupRoots(): Promise<string[]> {
  const layout = parseCgroupLayout(await readFile('/proc/self/mountinfo', 'utf8'))
  if (layout === 'v2') return ['/sys/fs/cgroup']
  const v1 = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids']
  return layout === 'hybrid' ? ['/sys/fs/cgroup/unified', ...v1] : v1
}

/** Every cgroup folder on the host, for a before/after comparison. */
export async function cgroupSnapshot(): Promise<Set<string>> {
  const found = new Set<string>()
  const walk = async (dir: string): Promise<void> => {
    found.add(dir)
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
    await Promise.all(entries.filter(e => e.isDirectory()).map(e => walk(join(dir, e.name))))
  }
  await Promise.all((await cgroupRoots()).map(walk))
  return found
}

/** The cgroups that appeared between two snapshots. */
export function newCgroups(before: Set<string>, after: Set<string>): string[] {
  return [...after].filter(dir => !before.has(dir)).sort()
}

/**
 * The cgroups that belong to no container: what a systemd that escaped its
 * own subtree would create (init.scope or system.slice beside the engine's).
 * The cgroupfs driver's parent folder, `<hierarchy>/docker`, is the engine's
 * own: runc makes it for the first container after the host boots.
 */
export function outsideContainers(dirs: string[]): string[] {
  const inContainer = /\/docker[/-][0-9a-f]{64}(\.scope)?(\/|$)/
  const engineParent = /^\/sys\/fs\/cgroup(\/[a-z_,]+)?\/docker$/
  return dirs.filter(dir => !inContainer.test(dir) && !engineParent.test(dir))
}
