import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Docker, DockerError } from './docker.js'
import { Log } from './log.js'

/**
 * Units that cannot work in a container: they manage hardware, consoles, the
 * kernel or the root file system, which belong to the host.
 */
export const MASKED_UNITS = [
  'systemd-udevd.service',
  'systemd-udevd-control.socket',
  'systemd-udevd-kernel.socket',
  'systemd-udev-trigger.service',
  'systemd-udev-settle.service',
  'getty@tty1.service',
  'console-getty.service',
  'systemd-firstboot.service',
  'systemd-remount-fs.service',
  'systemd-modules-load.service',
  'sys-kernel-config.mount',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-fs-fuse-connections.mount',
  'proc-sys-fs-binfmt_misc.automount'
]

/** An image to run, and whether this run had to build it. */
export interface PreparedImage {
  /** The reference the container is started from. */
  reference: string
  built: boolean
}

/** An image that could not be built. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ImageError'
  }
}

/** The Dockerfile that turns a Debian-family base image into a systemd image. */
export function generateDockerfile(base: string, packages: string[] = []): string {
  const install = ['systemd', 'systemd-sysv', 'dbus', ...packages].join(' ')
  const mask = MASKED_UNITS.map(unit => `/etc/systemd/system/${unit}`).join(' ')

  return [
    `FROM ${base}`,
    'ENV container=docker',
    'RUN export DEBIAN_FRONTEND=noninteractive \\',
    ' && apt-get update \\',
    ` && apt-get install -y --no-install-recommends ${install} \\`,
    ' && apt-get clean && rm -rf /var/lib/apt/lists/*',
    // An empty machine-id makes systemd generate a fresh one at every boot.
    `RUN for unit in ${mask}; do ln -sf /dev/null "$unit"; done \\`,
    ' && : > /etc/machine-id',
    'STOPSIGNAL SIGRTMIN+3',
    'CMD ["/lib/systemd/systemd"]',
    ''
  ].join('\n')
}

/** A local tag that names the base and everything the Dockerfile decides. */
export function imageTag(base: string, dockerfile: string): string {
  const digest = createHash('sha256').update(dockerfile).digest('hex').slice(0, 12)
  const name = base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+/, '')
  return `systemd-container/${name}:${digest}`
}

/** Builds the systemd image for `base`, or reuses the one the engine already has. */
export async function prepareImage(docker: Docker, log: Log, base: string): Promise<PreparedImage> {
  const dockerfile = generateDockerfile(base)
  const reference = imageTag(base, dockerfile)

  if (await imageExists(docker, reference)) {
    log.info(`${reference} is already on the engine: no build`)
    return { reference, built: false }
  }

  log.info(`building ${reference} from ${base}`)
  await build(docker, reference, dockerfile)
  return { reference, built: true }
}

/** True when the engine has an image with this reference. */
export async function imageExists(docker: Docker, reference: string): Promise<boolean> {
  const result = await docker.call(['image', 'inspect', '--format', '{{.Id}}', reference])
  return result.exitCode === 0
}

async function build(docker: Docker, reference: string, dockerfile: string): Promise<void> {
  const context = await mkdtemp(join(tmpdir(), 'systemd-container-'))
  try {
    await writeFile(join(context, 'Dockerfile'), dockerfile)
    await docker.ok(['build', '--tag', reference, context], { stream: true })
  } catch (error) {
    if (error instanceof DockerError) {
      throw new ImageError(`the systemd image could not be built: ${lastLines(error.result)}`)
    }
    throw error
  } finally {
    await rm(context, { recursive: true, force: true })
  }
}

function lastLines(result: { stdout: string; stderr: string }): string {
  const text = (result.stderr.trim() || result.stdout.trim()).split('\n')
  return text.slice(-5).join('\n')
}
