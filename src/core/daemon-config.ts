import * as exec from '@actions/exec'
import { randomBytes } from 'node:crypto'
import { readFile, realpath, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

import { Docker } from './docker.js'
import { Log } from './log.js'

/** Where dockerd reads its configuration unless told otherwise. */
export const DEFAULT_DAEMON_CONFIG = '/etc/docker/daemon.json'

/** A daemon configuration that cannot be changed as asked; nothing was written. */
export class DaemonConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DaemonConfigError'
  }
}

/**
 * Checks a cgroup parent against the engine's cgroup driver: the systemd
 * driver takes a slice name, cgroupfs a path. Returns a reason when it is
 * wrong, undefined when it is fine.
 */
export function cgroupParentProblem(value: string, cgroupDriver: string): string | undefined {
  if (cgroupDriver === 'systemd') {
    // runc splits a slice name at each dash into its parents: no part may be empty.
    if (!/^[A-Za-z0-9:_.\\]+(-[A-Za-z0-9:_.\\]+)*\.slice$/.test(value)) {
      return `the engine uses the systemd cgroup driver, which takes a slice name ending in .slice (for example docker.slice), not '${value}'`
    }
    return undefined
  }
  if (!/^\/?[A-Za-z0-9_.:-]+(\/[A-Za-z0-9_.:-]+)*\/?$/.test(value) || value.split('/').includes('..')) {
    return `the engine uses the ${cgroupDriver} cgroup driver, which takes a cgroup path (for example /ci or ci/systemd), not '${value}'`
  }
  return undefined
}

/**
 * Sets `cgroup-parent` in a daemon.json text, keeping every other key, its
 * value and its place. An absent file counts as `{}`.
 */
export function mergeCgroupParent(original: string | undefined, cgroupParent: string): string {
  const config = parseDaemonConfig(original)
  config['cgroup-parent'] = cgroupParent
  return `${JSON.stringify(config, null, 2)}\n`
}

/** The configuration as an object; a text that is not a JSON object is an error. */
export function parseDaemonConfig(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {}

  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (error) {
    throw new DaemonConfigError(`it is not valid JSON (${(error as Error).message}); it was left as it is`)
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new DaemonConfigError('it does not hold a JSON object; it was left as it is')
  }
  return config as Record<string, unknown>
}

/**
 * Runs the host commands that need root: directly as root, through
 * non-interactive sudo otherwise (a hosted runner's user has it without a password).
 */
export class HostCommands {
  private readonly sudo = process.getuid?.() !== 0

  /** Runs a command as root and returns its result whatever the exit code. */
  async run(command: string, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const [file, argv] = this.sudo ? ['sudo', ['-n', command, ...args]] : [command, args]
    try {
      return await exec.getExecOutput(file, argv, { silent: true, ignoreReturnCode: true })
    } catch (error) {
      return { exitCode: 127, stdout: '', stderr: (error as Error).message }
    }
  }

  /** Runs a command as root; throws with its error output when it fails. */
  async ok(command: string, args: string[]): Promise<string> {
    const result = await this.run(command, args)
    if (result.exitCode !== 0) {
      const how = this.sudo ? 'sudo -n ' : ''
      throw new Error(`${how}${command} ${args.join(' ')} failed: ${result.stderr.trim() || result.stdout.trim()}`)
    }
    return result.stdout
  }
}

/**
 * The daemon configuration file: read, written atomically, removed, and the
 * engine restarted after a change.
 */
export class DaemonConfigFile {
  constructor(
    readonly path: string,
    private readonly host: HostCommands,
    private readonly docker: Docker,
    private readonly log: Log
  ) {}

  /** The file's bytes, or undefined when there is none. */
  async read(): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return undefined
      if (code !== 'EACCES') throw error
    }
    const probe = await this.host.run('test', ['-e', this.path])
    if (probe.exitCode !== 0) return undefined
    return Buffer.from(await this.host.ok('cat', ['--', this.path]), 'utf8')
  }

  /**
   * Replaces the file with `content` in one rename, so the engine never reads
   * half a file: the new text goes to a file beside it first. A symbolic link
   * stays a link (its target is replaced), and the mode and owner stay.
   */
  async write(content: Buffer | string): Promise<void> {
    const target = await realpath(this.path).catch(() => this.path)
    const scratch = join(process.env.RUNNER_TEMP || tmpdir(), `daemon-${randomBytes(4).toString('hex')}.json`)
    const beside = `${target}.systemd-container-${randomBytes(4).toString('hex')}`
    await writeFile(scratch, content)
    try {
      await this.host.ok('mkdir', ['-p', '--', dirname(target)])
      await this.host.ok('install', [...(await ownership(target)), '--', scratch, beside])
      await this.host.ok('mv', ['-f', '--', beside, target])
    } finally {
      await rm(scratch, { force: true })
      await this.host.run('rm', ['-f', '--', beside])
    }
  }

  /** Removes the file. */
  async remove(): Promise<void> {
    await this.host.ok('rm', ['-f', '--', this.path])
  }

  /**
   * Restarts the engine with the host's service manager and waits until it
   * answers. docker.service allows few starts a minute: a refused start is
   * reset and tried once more.
   */
  async restartEngine(timeoutSeconds = 60): Promise<void> {
    const started = Date.now()
    const restarted = await this.restartService()
    if (!restarted.ok) throw new Error(`the engine did not restart: ${restarted.detail}`)

    const deadline = started + timeoutSeconds * 1000
    while (Date.now() < deadline) {
      if ((await this.docker.call(['version', '--format', '{{.Server.Version}}'])).exitCode === 0) {
        this.log.info(`engine answered again after ${((Date.now() - started) / 1000).toFixed(1)} s`)
        return
      }
      await sleep(500)
    }
    throw new Error(`the engine did not answer within ${timeoutSeconds} s of its restart`)
  }

  private async restartService(): Promise<{ ok: boolean; detail: string }> {
    let result = await this.host.run('systemctl', ['restart', 'docker'])
    if (result.exitCode === 0) return { ok: true, detail: '' }

    if (result.exitCode !== 127) {
      await this.host.run('systemctl', ['reset-failed', 'docker.service', 'docker.socket'])
      result = await this.host.run('systemctl', ['restart', 'docker'])
      if (result.exitCode === 0) return { ok: true, detail: '' }
    }

    const service = await this.host.run('service', ['docker', 'restart'])
    if (service.exitCode === 0) return { ok: true, detail: '' }
    return { ok: false, detail: (result.stderr || service.stderr).trim() }
  }

  /** The engine's own last log lines, for an engine that did not come back. */
  async engineLog(lines = 20): Promise<string> {
    const journal = await this.host.run('journalctl', ['--unit', 'docker.service', '--lines', String(lines), '--no-pager', '--output', 'cat'])
    return journal.exitCode === 0 ? journal.stdout.trim() : '(no engine log could be read)'
  }
}

/** `install` options that keep a file's mode and owner; 0644 root for a new file. */
async function ownership(path: string): Promise<string[]> {
  try {
    const stats = await stat(path)
    return ['-m', (stats.mode & 0o7777).toString(8), '-o', String(stats.uid), '-g', String(stats.gid)]
  } catch {
    return ['-m', '0644']
  }
}

/** What the action changed, so that the post step can put it back. */
export interface DaemonConfigChange {
  path: string
  /** The file's bytes before the change, base64; null when there was no file. */
  original: string | null
}

/**
 * Merges `cgroupParent` into the daemon configuration and restarts the
 * engine. Returns undefined when the engine had the value already (no write,
 * no restart). `beforeWrite` runs once a write is due and may refuse it by
 * throwing; `onWrite` hears of the change before the file is written, and
 * of undefined once it is undone. An engine that does not come back gets its
 * old file back and one more restart, and the error carries its own log lines.
 */
export async function applyCgroupParent(
  file: DaemonConfigFile,
  cgroupParent: string,
  log: Log,
  onWrite: (change: DaemonConfigChange | undefined) => void,
  beforeWrite: () => Promise<void> = async () => undefined
): Promise<DaemonConfigChange | undefined> {
  const original = await file.read()
  let config: Record<string, unknown>
  try {
    config = parseDaemonConfig(original?.toString('utf8'))
  } catch (error) {
    throw new DaemonConfigError(`${file.path}: ${(error as Error).message}`)
  }

  if (config['cgroup-parent'] === cgroupParent) {
    log.info(`${file.path} already sets cgroup-parent ${cgroupParent}: the engine is left as it is`)
    return undefined
  }

  await beforeWrite()
  const change = { path: file.path, original: original ? original.toString('base64') : null }
  onWrite(change)
  try {
    await file.write(mergeCgroupParent(original?.toString('utf8'), cgroupParent))
  } catch (error) {
    // Nothing to undo when the file is as it was (no sudo, say).
    const now = await file.read().catch(() => undefined)
    if (now?.equals(original ?? Buffer.alloc(0)) || (!now && !original)) onWrite(undefined)
    throw new DaemonConfigError(`${file.path} could not be written: ${(error as Error).message}`)
  }
  log.info(`${file.path}: cgroup-parent set to ${cgroupParent}${original ? ', other settings kept' : ' (new file)'}`)

  try {
    await file.restartEngine()
  } catch (error) {
    const engineLog = await file.engineLog()
    const outcome = await putBackAfterFailure(file, change, onWrite)
    throw new DaemonConfigError(`${(error as Error).message}; ${file.path} ${outcome}.\nEngine log:\n${engineLog}`)
  }
  return change
}

/**
 * Puts the daemon configuration back byte for byte, or removes it where there
 * was none. The engine reads it at its next restart, which is the caller's.
 */
export async function putBackDaemonConfig(file: DaemonConfigFile, change: DaemonConfigChange): Promise<void> {
  if (change.original === null) await file.remove()
  else await file.write(Buffer.from(change.original, 'base64'))
}

/**
 * Undoes a change the engine did not take, here and now; only a file that
 * cannot be put back is left to the post step. Returns what happened, in words.
 */
async function putBackAfterFailure(
  file: DaemonConfigFile,
  change: DaemonConfigChange,
  onWrite: (change: DaemonConfigChange | undefined) => void
): Promise<string> {
  try {
    await putBackDaemonConfig(file, change)
  } catch (error) {
    return `could not be put back (${(error as Error).message}): the post step tries again`
  }

  onWrite(undefined)
  try {
    await file.restartEngine()
    return 'was put back as it was, and the engine restarted with it'
  } catch (error) {
    return `was put back as it was, but the engine did not come back with it either (${(error as Error).message})`
  }
}
