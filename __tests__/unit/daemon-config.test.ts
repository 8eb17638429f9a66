import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import {
  applyCgroupParent,
  cgroupParentProblem,
  DaemonConfigChange,
  DaemonConfigError,
  DaemonConfigFile,
  HostCommands,
  mergeCgroupParent,
  parseDaemonConfig,
  putBackDaemonConfig
} from '../../src/core/daemon-config.js'
import { Docker } from '../../src/core/docker.js'
import { Log } from '../../src/core/log.js'

describe('mergeCgroupParent', () => {
  it.each([
    ['an absent file', undefined],
    ['an empty file', ''],
    ['a file of blanks only', ' \n\t\n']
  ])('turns %s into a file holding cgroup-parent alone', (_, original) => {
    expect(mergeCgroupParent(original, 'docker.slice')).toBe('{\n  "cgroup-parent": "docker.slice"\n}\n')
  })

  it('keeps every other key, its place and its value exactly', () => {
    const original = {
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '10m', 'max-file': '3', labels: 'a,b' },
      dns: ['1.1.1.1', '8.8.8.8'],
      'max-concurrent-downloads': 3,
      'shutdown-timeout': 1.5,
      'live-restore': true,
      'userland-proxy': false,
      bip: null,
      'default-ulimits': { nofile: { Name: 'nofile', Hard: 65536, Soft: 1024 } },
      'insecure-registries': []
    }
    const merged = JSON.parse(mergeCgroupParent(JSON.stringify(original), '/ci')) as Record<string, unknown>

    expect(merged).toEqual({ ...original, 'cgroup-parent': '/ci' })
    expect(Object.keys(merged)).toEqual([...Object.keys(original), 'cgroup-parent'])
    expect(Object.keys(merged['log-opts'] as object)).toEqual(['max-size', 'max-file', 'labels'])
    expect(merged.bip).toBeNull()
    expect(merged.dns).toEqual(['1.1.1.1', '8.8.8.8'])
  })

  it('replaces an existing cgroup-parent in its own place', () => {
    const original = '{"debug": true, "cgroup-parent": "old.slice", "log-level": "warn"}'
    const merged = mergeCgroupParent(original, 'docker.slice')

    expect(Object.keys(JSON.parse(merged))).toEqual(['debug', 'cgroup-parent', 'log-level'])
    expect(JSON.parse(merged)).toEqual({ debug: true, 'cgroup-parent': 'docker.slice', 'log-level': 'warn' })
    expect(merged).not.toContain('old.slice')
  })

  it('ends the text with exactly one newline', () => {
    const merged = mergeCgroupParent('{"debug": false}\n\n', '/ci')
    expect(merged.endsWith('}\n')).toBe(true)
    expect(merged.endsWith('\n\n')).toBe(false)
  })
})

describe('parseDaemonConfig', () => {
  it.each([
    ['invalid JSON', '{"debug": true,', /not valid JSON/],
    ['a JSON array', '["debug"]', /does not hold a JSON object/],
    ['a JSON string', '"debug"', /does not hold a JSON object/],
    ['a JSON number', '42', /does not hold a JSON object/],
    ['JSON null', 'null', /does not hold a JSON object/]
  ])('refuses %s and says it was left as it is', (_, text, reason) => {
    let caught: unknown
    try {
      parseDaemonConfig(text)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(DaemonConfigError)
    expect((caught as Error).name).toBe('DaemonConfigError')
    expect((caught as Error).message).toMatch(reason)
    expect((caught as Error).message).toContain('it was left as it is')
  })

  it('reads an absent or blank file as an empty object', () => {
    expect(parseDaemonConfig(undefined)).toEqual({})
    expect(parseDaemonConfig('  \n')).toEqual({})
  })
})

describe('cgroupParentProblem', () => {
  describe('with the systemd driver', () => {
    it.each(['docker.slice', 'ci-jobs.slice', 'ci-jobs-a1.slice', 'ci_jobs.slice'])('accepts %s', value => {
      expect(cgroupParentProblem(value, 'systemd')).toBeUndefined()
    })

    it.each(['docker', '/docker.slice', 'docker.slice/sub', 'a b.slice', '', '.slice', 'docker.slice.bak'])(
      'refuses %p, naming the driver and a slice that would work',
      value => {
        const problem = cgroupParentProblem(value, 'systemd')
        expect(problem).toContain('systemd cgroup driver')
        expect(problem).toContain('slice name ending in .slice')
        expect(problem).toContain('for example docker.slice')
        expect(problem).toContain(`'${value}'`)
      }
    )

    // The engine's runtime (runc, ExpandSlice) splits a slice name at each dash
    // and refuses an empty part: dockerd starts with such a value, but every
    // container start then fails with "invalid slice name".
    it.each(['ci--jobs.slice', '-ci.slice', 'ci-.slice'])('refuses %p, whose dashes leave an empty part', value => {
      expect(cgroupParentProblem(value, 'systemd')).toContain('systemd cgroup driver')
    })
  })

  describe('with the cgroupfs driver', () => {
    // cgroupfs takes any path: a directory named docker.slice is a plain cgroup there.
    it.each(['/ci', 'ci/systemd', '/actions/jobs', 'ci', '/ci/', 'docker.slice'])('accepts %s', value => {
      expect(cgroupParentProblem(value, 'cgroupfs')).toBeUndefined()
    })

    it.each(['../escape', '/a/../b', 'a/..', 'with space', '', '/', '//ci', 'ci//jobs', 'ci;rm'])(
      'refuses %p, naming the driver and a path that would work',
      value => {
        const problem = cgroupParentProblem(value, 'cgroupfs')
        expect(problem).toContain('cgroupfs cgroup driver')
        expect(problem).toContain('for example /ci or ci/systemd')
        expect(problem).toContain(`'${value}'`)
      }
    )
  })
})

/** The engine as the file sees it: answers at once, never restarted for real. */
const docker = {
  call: async () => ({ exitCode: 0, stdout: '20.10', stderr: '' })
} as unknown as Docker

const ENGINE_LOG = 'dockerd[812]: failed to start daemon: invalid cgroup-parent\ndockerd[812]: exiting'

/**
 * A daemon.json whose reads, writes and removals really happen, on a temporary
 * folder; the engine restart only records what the file held at that moment.
 */
class RecordedFile extends DaemonConfigFile {
  /** The file's text at each restart; null when there was no file. */
  readonly restarts: (string | null)[] = []
  engineLogReads = 0

  constructor(
    path: string,
    private failingRestarts = 0,
    host: HostCommands = new HostCommands(),
    log: Log = quietLog().log
  ) {
    super(path, host, docker, log)
  }

  override async restartEngine(): Promise<void> {
    this.restarts.push(existsSync(this.path) ? readFileSync(this.path, 'utf8') : null)
    if (this.failingRestarts > 0) {
      this.failingRestarts--
      throw new Error('the engine did not restart: Job for docker.service failed because the control process exited')
    }
  }

  override async engineLog(): Promise<string> {
    this.engineLogReads++
    return ENGINE_LOG
  }
}

/** Real host commands, except that the final rename fails. */
class FailingRename extends HostCommands {
  override async ok(command: string, args: string[]): Promise<string> {
    if (command === 'mv') throw new Error(`mv ${args.join(' ')} failed: Read-only file system`)
    return super.ok(command, args)
  }
}

/** Real host commands, except that every rename after the first fails. */
class FailingSecondRename extends HostCommands {
  private renames = 0

  override async ok(command: string, args: string[]): Promise<string> {
    if (command === 'mv' && ++this.renames > 1) throw new Error(`mv ${args.join(' ')} failed: No space left on device`)
    return super.ok(command, args)
  }
}

function quietLog(): { log: Log; infos: string[] } {
  const infos: string[] = []
  return { log: { info: message => void infos.push(message), warning: () => undefined, debug: () => undefined }, infos }
}

describe('DaemonConfigFile, applyCgroupParent and putBackDaemonConfig on a real folder', () => {
  let folder: string
  let runnerTemp: string
  let path: string
  const savedRunnerTemp = process.env.RUNNER_TEMP

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'daemon-config-test-'))
    runnerTemp = await mkdtemp(join(tmpdir(), 'daemon-config-runner-temp-'))
    process.env.RUNNER_TEMP = runnerTemp
    path = join(folder, 'docker', 'daemon.json')
  })

  afterEach(async () => {
    if (savedRunnerTemp === undefined) delete process.env.RUNNER_TEMP
    else process.env.RUNNER_TEMP = savedRunnerTemp
    await rm(folder, { recursive: true, force: true })
    await rm(runnerTemp, { recursive: true, force: true })
  })

  async function placeOriginal(content: Buffer | string): Promise<Buffer> {
    await mkdir(join(folder, 'docker'), { recursive: true })
    await writeFile(path, content)
    return readFile(path)
  }

  /** Nothing is left beside the target, nor in the runner's temporary folder. */
  async function expectNoLeftovers(): Promise<void> {
    const beside = existsSync(join(folder, 'docker')) ? await readdir(join(folder, 'docker')) : []
    expect(beside.filter(name => name.includes('.systemd-container-'))).toEqual([])
    expect(beside.filter(name => name !== 'daemon.json')).toEqual([])
    expect(await readdir(runnerTemp)).toEqual([])
  }

  it('creates an absent file with cgroup-parent, telling the caller before the file changes', async () => {
    const file = new RecordedFile(path)
    const seen: { change: DaemonConfigChange; fileExisted: boolean }[] = []

    const change = await applyCgroupParent(file, 'docker.slice', quietLog().log, saved => {
      if (saved) seen.push({ change: { ...saved }, fileExisted: existsSync(path) })
    })

    expect(change).toEqual({ path, original: null })
    expect(seen).toEqual([{ change: { path, original: null }, fileExisted: false }])
    expect(await readFile(path, 'utf8')).toBe('{\n  "cgroup-parent": "docker.slice"\n}\n')
    expect((await stat(path)).mode & 0o777).toBe(0o644)
    expect(file.restarts).toEqual(['{\n  "cgroup-parent": "docker.slice"\n}\n'])
    await expectNoLeftovers()
  })

  it('keeps the other keys and saves the original as base64 of its exact bytes', async () => {
    const text = '{\n\t"log-driver":\t"journald",\n\t"labels": ["café=☕", "中文"],\n\t"log-opts": {"tag": "ü{{.Name}}"},\n\t"debug": false\n}'
    const original = await placeOriginal(text)
    const file = new RecordedFile(path)
    let duringOnWrite: Buffer | undefined

    const change = await applyCgroupParent(file, '/ci', quietLog().log, () => {
      duringOnWrite = readFileSync(path)
    })

    expect(duringOnWrite?.equals(original)).toBe(true)
    expect(change).toEqual({ path, original: original.toString('base64') })
    expect(Buffer.from(change!.original!, 'base64').equals(Buffer.from(text, 'utf8'))).toBe(true)

    const written = await readFile(path, 'utf8')
    expect(written.endsWith('\n')).toBe(true)
    const config = JSON.parse(written) as Record<string, unknown>
    expect(Object.keys(config)).toEqual(['log-driver', 'labels', 'log-opts', 'debug', 'cgroup-parent'])
    expect(config).toEqual({
      'log-driver': 'journald',
      labels: ['café=☕', '中文'],
      'log-opts': { tag: 'ü{{.Name}}' },
      debug: false,
      'cgroup-parent': '/ci'
    })
    expect(file.restarts).toEqual([written])
    await expectNoLeftovers()
  })

  it('leaves an engine that has the value already alone: no write, no restart', async () => {
    const original = await placeOriginal('{"cgroup-parent":"docker.slice","debug":true}')
    const file = new RecordedFile(path)
    const { log, infos } = quietLog()
    let told = false

    const change = await applyCgroupParent(file, 'docker.slice', log, () => {
      told = true
    })

    expect(change).toBeUndefined()
    expect(told).toBe(false)
    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toEqual([])
    expect(infos.join('\n')).toContain('already sets cgroup-parent docker.slice')
    await expectNoLeftovers()
  })

  it('asks beforeWrite only when a write is due, and writes nothing when it refuses', async () => {
    const original = await placeOriginal('{"cgroup-parent":"docker.slice"}')
    const file = new RecordedFile(path)
    let asked = 0
    const refuse = async () => {
      asked++
      throw new Error('containers are running')
    }

    await expect(applyCgroupParent(file, 'docker.slice', quietLog().log, () => undefined, refuse)).resolves.toBeUndefined()
    expect(asked).toBe(0)

    let told = false
    const attempt = applyCgroupParent(file, 'ci.slice', quietLog().log, () => (told = true), refuse)
    await expect(attempt).rejects.toThrow('containers are running')
    expect(asked).toBe(1)
    expect(told).toBe(false)
    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toEqual([])
    await expectNoLeftovers()
  })

  it('refuses a file that is not JSON, naming it, and leaves it byte for byte', async () => {
    const original = await placeOriginal('{\n  "debug": true,\n  // a comment\n}')
    const file = new RecordedFile(path)
    let told = false

    const attempt = applyCgroupParent(file, 'docker.slice', quietLog().log, () => {
      told = true
    })

    await expect(attempt).rejects.toBeInstanceOf(DaemonConfigError)
    await expect(attempt).rejects.toThrow(`${path}: it is not valid JSON`)
    await expect(attempt).rejects.toThrow('it was left as it is')
    expect(told).toBe(false)
    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toEqual([])
    await expectNoLeftovers()
  })

  it('puts the file back byte for byte when the engine does not come back, and restarts it once more', async () => {
    const original = await placeOriginal(Buffer.from('{"debug":\ttrue,\r\n"dns":["10.0.0.2"]}', 'utf8'))
    const file = new RecordedFile(path, 1)

    const attempt = applyCgroupParent(file, 'docker.slice', quietLog().log, () => undefined)

    await expect(attempt).rejects.toBeInstanceOf(DaemonConfigError)
    const message = await attempt.catch((error: Error) => error.message)
    expect(message).toContain('the engine did not restart: Job for docker.service failed')
    expect(message).toContain(`${path} was put back as it was`)
    expect(message).toContain('dockerd[812]: failed to start daemon: invalid cgroup-parent')
    expect(message).toContain('dockerd[812]: exiting')

    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toHaveLength(2)
    expect(JSON.parse(file.restarts[0]!)).toEqual({ debug: true, dns: ['10.0.0.2'], 'cgroup-parent': 'docker.slice' })
    expect(file.restarts[1]).toBe(original.toString('utf8'))
    expect(file.engineLogReads).toBe(1)
    await expectNoLeftovers()
  })

  it('removes a file it created when the engine does not come back', async () => {
    const file = new RecordedFile(path, 1)

    await expect(applyCgroupParent(file, '/ci', quietLog().log, () => undefined)).rejects.toThrow(
      'was put back as it was'
    )

    expect(existsSync(path)).toBe(false)
    expect(file.restarts).toEqual(['{\n  "cgroup-parent": "/ci"\n}\n', null])
    await expectNoLeftovers()
  })

  it('still reports the first failure when the engine refuses the second restart too', async () => {
    const original = await placeOriginal('{"debug":true}')
    const file = new RecordedFile(path, 2)

    await expect(applyCgroupParent(file, '/ci', quietLog().log, () => undefined)).rejects.toThrow(
      /did not restart.*was put back as it was/s
    )
    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toHaveLength(2)
  })

  it('does not say the file was put back when putting it back failed, and leaves it to the post step', async () => {
    const original = await placeOriginal('{"debug":true}')
    const file = new RecordedFile(path, 1, new FailingSecondRename())
    const told: (DaemonConfigChange | undefined)[] = []

    const message = await applyCgroupParent(file, '/ci', quietLog().log, change => told.push(change)).then(
      () => 'resolved',
      (error: Error) => error.message
    )

    // The change stays recorded, so the post step puts the file back.
    expect(told).toEqual([{ path, original: original.toString('base64') }])
    expect((await readFile(path)).equals(original)).toBe(false)
    expect(message).toContain('the engine did not restart')
    expect(message).not.toContain('was put back as it was')
    expect(message).toContain('No space left on device')
    await expectNoLeftovers()
  })

  it('writes in one rename: a failed rename leaves the file and no scratch file behind', async () => {
    const original = await placeOriginal('{"debug":true}')
    const file = new RecordedFile(path, 0, new FailingRename())
    const told: (DaemonConfigChange | undefined)[] = []

    await expect(applyCgroupParent(file, '/ci', quietLog().log, change => told.push(change))).rejects.toThrow(
      'Read-only file system'
    )

    // Recorded before the write, cleared once the file proved unchanged: nothing for the post step.
    expect(told).toEqual([{ path, original: original.toString('base64') }, undefined])
    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toEqual([])
    await expectNoLeftovers()
  })

  it('putBackDaemonConfig puts the original bytes back exactly, and leaves the restart to its caller', async () => {
    const original = Buffer.concat([Buffer.from('{\t"debug" : true ,"x":"ü"}', 'utf8'), Buffer.from([0x0a, 0x0a])])
    await placeOriginal('{\n  "debug": true,\n  "cgroup-parent": "/ci"\n}\n')
    const file = new RecordedFile(path)

    await putBackDaemonConfig(file, { path, original: original.toString('base64') })

    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toEqual([])
    await expectNoLeftovers()
  })

  it('putBackDaemonConfig removes the file when there was none', async () => {
    await placeOriginal('{\n  "cgroup-parent": "/ci"\n}\n')
    const file = new RecordedFile(path)

    await putBackDaemonConfig(file, { path, original: null })

    expect(existsSync(path)).toBe(false)
    expect(file.restarts).toEqual([])
    await expectNoLeftovers()
  })

  it('a whole round trip leaves the original bytes', async () => {
    const original = await placeOriginal('{"log-level":"warn"}')
    const file = new RecordedFile(path)

    const change = await applyCgroupParent(file, 'docker.slice', quietLog().log, () => undefined)
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ 'log-level': 'warn', 'cgroup-parent': 'docker.slice' })
    await putBackDaemonConfig(file, change!)

    expect((await readFile(path)).equals(original)).toBe(true)
    expect(file.restarts).toHaveLength(1)
    await expectNoLeftovers()
  })
})
