import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { createJob } from '../../scripts/runner.mjs'
import { startCacheService, type CacheService } from '../../scripts/cache-service.mjs'
import { Engine, labEngine } from './support/engine.js'

// The image cache end to end: the bundled action with the real @actions/cache
// client, a local cache service and a real blob store (Azurite).
describe('the image cache', () => {
  let engine: Engine
  let service: CacheService
  // A base name of its own gives these tests images no other test builds.
  const inputs = { image: 'e2e-cache/bookworm:base', packages: 'procps' }

  beforeAll(async () => {
    engine = await labEngine('v2')
    service = await startCacheService()
    await engine.ok(['tag', 'debian:bookworm', inputs.image])
    const left = await engine.ok(['images', '--format', '{{.Repository}}:{{.Tag}}', 'systemd-container/e2e-cache-bookworm-base'])
    for (const reference of left.split('\n').filter(Boolean)) await forget(reference)
  })

  afterAll(async () => {
    await service?.stop()
  })

  async function runJob(env: Record<string, string>, extra: Record<string, string> = {}) {
    const job = await createJob({ dockerHost: engine.host, inputs: { ...inputs, ...extra }, env })
    const main = await job.main()
    expect(main.exitCode).toBe(0)
    const id = main.outputs['container-id']
    expect(await engine.ok(['exec', id, 'systemctl', 'is-system-running'])).toBe('running')
    const machineId = await engine.ok(['exec', id, 'cat', '/etc/machine-id'])
    expect(await engine.ok(['exec', id, 'cat', '/var/lib/dbus/machine-id'])).toBe(machineId)
    expect((await job.post()).exitCode).toBe(0)
    return { ...main, machineId }
  }

  /** The image these tests built from their base, as the engine has it now. */
  async function builtImage(): Promise<string> {
    const list = await engine.ok(['images', '--format', '{{.Repository}}:{{.Tag}}', 'systemd-container/e2e-cache-bookworm-base'])
    return list.split('\n')[0]
  }

  /** Empties the engine of the image, as a new runner would be. */
  async function forget(reference: string) {
    await engine.ok(['image', 'rm', reference])
  }

  it('misses and saves on the first run, hits and loads without a build on the second', async () => {
    const first = await runJob(service.env)
    expect(first.outputs['cache-hit']).toBe('false')
    expect(first.log).toMatch(/cache miss for systemd-container-v1-x86_64-[0-9a-f]{64}/)
    expect(first.log).toContain('building systemd-container/')
    expect(first.log).toMatch(/the archive leaves out 1 layer\(s\) of e2e-cache\/bookworm:base, which the engine has/)
    expect(first.log).toMatch(/saved .* to the cache as systemd-container-v1-/)
    expect(await service.entries()).toHaveLength(1)

    await forget(first.outputs.image)
    const second = await runJob(service.env)
    expect(second.outputs['cache-hit']).toBe('true')
    expect(second.outputs.image).toBe(first.outputs.image)
    expect(second.outputs['image-id']).toBe(first.outputs['image-id'])
    expect(second.log).toContain('cache hit')
    expect(second.log).not.toContain('building systemd-container/')
    expect(second.log).not.toContain('Step 1/')
    // Two boots of one image are two machines: the image carries no machine ID.
    expect(second.machineId).toMatch(/^[0-9a-f]{32}$/)
    expect(second.machineId).not.toBe(first.machineId)
    expect(await service.entries()).toHaveLength(1)
  })

  it('uses the image on the engine without asking the cache at all', async () => {
    const run = await runJob(service.env)
    expect(run.log).toContain('is already on the engine: no build')
    expect(run.log).not.toContain('cache miss')
  })

  it('builds normally when the cached archive is corrupt, and does not save over the key', async () => {
    const [key] = await service.entries()
    await service.corrupt(key)
    await forget(await builtImage())

    const run = await runJob(service.env)
    expect(run.outputs['cache-hit']).toBe('false')
    expect(run.log).toMatch(/::warning::Failed to restore/)
    expect(run.log).toContain('building systemd-container/')
    expect(run.log).not.toMatch(/::error::/)
    expect(await service.entries()).toEqual([key])
  })

  it('builds and saves nothing when the build fails', async () => {
    const before = await service.entries()
    const job = await createJob({
      dockerHost: engine.host,
      inputs: { ...inputs, packages: 'no-such-package-anywhere' },
      env: service.env
    })
    const main = await job.main()
    expect(main.exitCode).not.toBe(0)
    expect(main.log).toContain('systemd image could not be built')
    expect(await service.entries()).toEqual(before)
    expect((await job.post()).exitCode).toBe(0)
  })

  it('warns and goes on when the upload fails', async () => {
    service.failUploads(true)
    try {
      const run = await runJob(service.env, { packages: 'procps less' })
      expect(run.outputs['cache-hit']).toBe('false')
      expect(run.log).toMatch(/::warning::Failed to save/)
      expect(run.log).not.toMatch(/::error::/)
      await forget(run.outputs.image)
    } finally {
      service.failUploads(false)
    }
  })

  it('builds without a cache when the service is not there, and when cache is false', async () => {
    const absent = await runJob({}, { packages: 'procps less' })
    expect(absent.log).toContain('The Actions cache service is not available here')
    await forget(absent.outputs.image)

    const off = await runJob(service.env, { packages: 'procps less', cache: 'false' })
    expect(off.log).not.toContain('cache miss')
    expect(off.outputs['cache-hit']).toBe('false')
    await forget(off.outputs.image)
  })

  it('builds a Dockerfile of your own again when the image its FROM names has changed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'systemd-container-from-'))
    const from = 'e2e-cache/from:latest'
    // The folder's name makes the Dockerfile, and so its tag, this run's own.
    await writeFile(join(dir, 'Dockerfile'), `ARG BASE=${from}\nFROM $BASE\nRUN echo ${dir}\n`)
    const own = { dockerfile: join(dir, 'Dockerfile'), cache: 'false' }
    // The image has no systemd: the plan and the build are what is checked, by the log.
    const withBase = async (source: string) => {
      await engine.ok(['tag', source, from])
      const job = await createJob({ dockerHost: engine.host, inputs: own })
      const { log } = await job.main()
      await job.post()
      const tag = /(systemd-container\/custom:[0-9a-f]{16})/.exec(log)?.[1]
      expect(tag).toBeDefined()
      return { log, tag: tag ?? '' }
    }

    const first = await withBase('debian:bookworm')
    expect(first.log).toContain(`building ${first.tag}`)
    const again = await withBase('debian:bookworm')
    expect(again.log).toContain(`${first.tag} is already on the engine: no build`)
    const rebuilt = await withBase('debian:trixie')
    expect(rebuilt.tag).not.toBe(first.tag)
    expect(rebuilt.log).toContain(`building ${rebuilt.tag}`)

    for (const built of [first, rebuilt]) await forget(built.tag)
    await forget(from)
  })

  it('goes on when the cache service does not answer', async () => {
    const dead = { ...service.env, ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/' }
    const run = await runJob(dead, { packages: 'procps less' })
    expect(run.outputs['cache-hit']).toBe('false')
    await forget(run.outputs.image)
  })
})
