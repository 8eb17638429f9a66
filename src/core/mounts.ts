import { realpath } from 'node:fs/promises'
import { posix } from 'node:path'

import { Docker } from './docker.js'

/** A mount that would hand the container the host's cgroup tree. */
export class MountError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MountError'
  }
}

// Docker binds recursively, so a folder above the cgroup tree brings it in too.
const ABOVE_CGROUP_TREE = new Set(['/', '/sys', '/sys/fs'])

/**
 * True when a host path is the cgroup tree, lies in it, holds it, or leads to
 * it: the host's /proc reaches every process's root, /sys/fs/cgroup with it.
 */
export function exposesCgroupTree(hostPath: string): boolean {
  const path = posix.normalize(hostPath).replace(/(.)\/+$/, '$1')
  const under = (top: string) => path === top || path.startsWith(`${top}/`)
  return ABOVE_CGROUP_TREE.has(path) || under('/sys/fs/cgroup') || under('/proc')
}

/** A volume's driver options, as `docker volume inspect` shows them. */
export type VolumeOptions = Record<string, string> | null

// The local volume driver mounts these in the engine's own namespaces: a
// cgroup file system made there is the host's root, not the container's.
const HOST_KERNEL_FILE_SYSTEMS = new Set(['cgroup', 'cgroup2', 'proc', 'sysfs'])

/** True when a volume's driver options mount a kernel file system or bind a path that exposes the tree. */
export async function volumeExposesCgroupTree(options: VolumeOptions): Promise<boolean> {
  if (!options) return false
  if (HOST_KERNEL_FILE_SYSTEMS.has(options.type ?? '')) return true

  const flags = (options.o ?? '').split(',')
  if (!flags.includes('bind') && !flags.includes('rbind')) return false
  return pathExposes(options.device ?? '')
}

async function pathExposes(path: string): Promise<boolean> {
  if (!path) return false
  // A link to /sys is /sys; a path this step cannot see is judged as written.
  const resolved = await realpath(path).catch(() => path)
  return exposesCgroupTree(path) || exposesCgroupTree(resolved)
}

interface Mount {
  Type?: string
  Name?: string
  Source?: string
  Destination?: string
}

/**
 * Reads the mounts of a created container from the engine and refuses one
 * that brings the host's cgroup tree in, however the options spelled it:
 * `--volumes-from`, a link, a volume with driver options of its own.
 */
export async function refuseCgroupTreeMounts(docker: Docker, containerId: string): Promise<void> {
  const mounts = JSON.parse(await docker.ok(['inspect', '--format', '{{json .Mounts}}', containerId])) as
    | Mount[]
    | null

  for (const mount of mounts ?? []) {
    if (mount.Type === 'bind' && (await pathExposes(mount.Source ?? ''))) {
      throw refusal(`the mount of ${mount.Source} at ${mount.Destination}`)
    }
    if (mount.Type !== 'volume' || !mount.Name) continue
    if (await volumeExposesCgroupTree(await volumeOptions(docker, mount.Name))) {
      throw refusal(`the volume ${mount.Name} at ${mount.Destination}`)
    }
  }
}

async function volumeOptions(docker: Docker, name: string): Promise<VolumeOptions> {
  const options = await docker.ok(['volume', 'inspect', '--format', '{{json .Options}}', name])
  return JSON.parse(options) as VolumeOptions
}

function refusal(what: string): MountError {
  return new MountError(
    `${what} (from 'volumes' or 'options') brings the host's cgroup tree, or a way to it, into the container; ` +
      'the strategy gives systemd a subtree of its own. Nothing was started'
  )
}
