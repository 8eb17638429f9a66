import { restoreCache, saveCache } from '@actions/cache'
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

import { type CacheService, startCacheService } from '../../scripts/cache-service.mjs'

const execFileAsync = promisify(execFile)
const REPO = resolve(import.meta.dirname, '..', '..')

// The real @actions/cache client, in this process and in a child process,
// against the local cache service and its Azurite blob store.
describe('local cache service', () => {
  let service: CacheService
  let home: string
  let workspace: string
  // The client globs the paths from the working directory but archives them
  // relative to GITHUB_WORKSPACE, and the entry's version hashes the paths as
  // given: every save and restore names the same absolute folder.
  let PATHS: string[]
  const savedEnv = { ...process.env }

  beforeAll(async () => {
    service = await startCacheService()
    home = await mkdtemp(join(tmpdir(), 'cache-service-test-'))
    workspace = join(home, 'workspace')
    PATHS = [join(workspace, 'payload')]
    await mkdir(join(home, 'temp'), { recursive: true })
    Object.assign(process.env, service.env, { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: join(home, 'temp') })
  })

  afterAll(async () => {
    process.env = savedEnv
    await service?.stop()
    if (home) await rm(home, { recursive: true, force: true })
  })

  beforeEach(async () => {
    await rm(workspace, { recursive: true, force: true })
    await mkdir(workspace, { recursive: true })
  })

  it('saves a folder and restores it byte for byte', async () => {
    const files = await writePayload(workspace)

    const saved = await quietly(() => saveCache(PATHS, 'image-a'))
    expect(saved.result).toBeGreaterThan(0)
    expect(await service.entries()).toContain('image-a')

    await rm(join(workspace, 'payload'), { recursive: true })
    const restored = await quietly(() => restoreCache(PATHS, 'image-a'))
    expect(restored.result).toBe('image-a')
    expect(restored.log).toContain('Cache restored successfully')
    await expectPayload(workspace, files)
  })

  it('reports an existing key on a second save instead of failing', async () => {
    await writePayload(workspace)
    expect((await quietly(() => saveCache(PATHS, 'image-twice'))).result).toBeGreaterThan(0)

    const again = await quietly(() => saveCache(PATHS, 'image-twice'))
    expect(again.result).toBe(-1)
    expect(again.log).toContain('Unable to reserve cache with key image-twice')
    expect((await service.entries()).filter(key => key === 'image-twice')).toHaveLength(1)
  })

  it('misses on an unknown key', async () => {
    const restored = await quietly(() => restoreCache(PATHS, 'no-such-key'))
    expect(restored.result).toBeUndefined()
  })

  it('restores the newest entry whose key starts with a restore key', async () => {
    await writePayload(workspace)
    await quietly(() => saveCache(PATHS, 'prefix-old'))
    const files = await writePayload(workspace)
    await quietly(() => saveCache(PATHS, 'prefix-new'))

    await rm(join(workspace, 'payload'), { recursive: true })
    const restored = await quietly(() => restoreCache(PATHS, 'prefix-missing', ['nothing-', 'prefix-']))
    expect(restored.result).toBe('prefix-new')
    expect(restored.log).toContain('Cache hit for restore-key: prefix-new')
    await expectPayload(workspace, files)
  })

  it('lets a test make uploads fail', async () => {
    await writePayload(workspace)
    service.failUploads(true)
    const failed = await quietly(() => saveCache(PATHS, 'image-upload-fails'))
    service.failUploads(false)
    expect(failed.result).toBe(-1)
    expect(failed.log).toContain('Failed to save')
    expect(await service.entries()).not.toContain('image-upload-fails')

    const retried = await quietly(() => saveCache(PATHS, 'image-upload-fails'))
    expect(retried.result).toBeGreaterThan(0)
  })

  it('lets a test corrupt a stored archive', async () => {
    await writePayload(workspace)
    await quietly(() => saveCache(PATHS, 'image-corrupt'))
    await service.corrupt('image-corrupt')

    await rm(join(workspace, 'payload'), { recursive: true })
    const restored = await quietly(() => restoreCache(PATHS, 'image-corrupt'))
    expect(restored.result).toBeUndefined()
    expect(restored.log).toContain('Failed to restore')
  })

  it('serves a child process that has nothing but its env', async () => {
    const files = await writePayload(workspace)
    const saved = await inChild(`await cache.saveCache(${JSON.stringify(PATHS)}, 'image-child')`)
    expect(Number(saved)).toBeGreaterThan(0)

    // What the child saved, this process restores...
    await rm(join(workspace, 'payload'), { recursive: true })
    const restored = await quietly(() => restoreCache(PATHS, 'image-child'))
    expect(restored.result).toBe('image-child')
    await expectPayload(workspace, files)

    // ...and what this process saved, the child restores.
    const mine = await writePayload(workspace)
    expect((await quietly(() => saveCache(PATHS, 'image-parent'))).result).toBeGreaterThan(0)
    await rm(join(workspace, 'payload'), { recursive: true })
    const hit = await inChild(`await cache.restoreCache(${JSON.stringify(PATHS)}, 'image-parent')`)
    expect(hit).toBe('image-parent')
    await expectPayload(workspace, mine)
  })

  /** Runs `expression` with @actions/cache imported as `cache`, in a node whose environment is `service.env` and little else. */
  async function inChild(expression: string): Promise<unknown> {
    const script = `import * as cache from '@actions/cache'\nconsole.log('RESULT=' + JSON.stringify(${expression}))`
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...service.env,
        GITHUB_WORKSPACE: workspace,
        RUNNER_TEMP: join(home, 'temp')
      }
    })
    const line = stdout.split('\n').find(text => text.startsWith('RESULT='))
    if (!line) throw new Error(`the child printed no result:\n${stdout}`)
    return JSON.parse(line.slice('RESULT='.length))
  }
})

/** A folder `payload` in `dir`, with a file large enough to take several blocks and a nested one. */
async function writePayload(dir: string): Promise<Record<string, Buffer>> {
  const files = {
    'payload/image.tar': randomBytes(3 * 1024 * 1024 + 17),
    'payload/nested/manifest.json': Buffer.from(JSON.stringify({ saved: Date.now() }))
  }
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true })
    await writeFile(join(dir, name), bytes)
  }
  return files
}

async function expectPayload(dir: string, files: Record<string, Buffer>): Promise<void> {
  for (const [name, bytes] of Object.entries(files)) {
    expect((await readFile(join(dir, name))).equals(bytes)).toBe(true)
  }
}

/** Runs `action` with what @actions/core writes to stdout kept out of the test output and returned. */
async function quietly<T>(action: () => Promise<T>): Promise<{ result: T; log: string }> {
  let log = ''
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    log += String(chunk)
    return true
  })
  try {
    return { result: await action(), log }
  } finally {
    spy.mockRestore()
  }
}
