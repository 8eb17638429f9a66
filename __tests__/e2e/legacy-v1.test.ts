import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { join } from 'node:path'

import { createJob, Place, REPO, StepResult } from '../../scripts/runner.mjs'
import {
  cgroupSnapshot,
  Engine,
  EngineName,
  labEngine,
  managedContainers,
  newCgroups,
  outsideContainers
} from './support/engine.js'

// A runner that sees cgroup v1 alone, with no cgroup2 hierarchy: the action
// runs in a mount namespace without /sys/fs/cgroup/unified, against the v1
// engine. systemd up to 257 boots on the v1 mounts; 258 and later cannot, and
// say so at once instead of timing out.
const LEGACY_RUNNER: Place = {
  launch: env => ({
    file: 'unshare',
    args: [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'umount /sys/fs/cgroup/unified && exec "$@"',
      'sh',
      // sh drops variables whose names hold a dash (INPUT_BOOT-TIMEOUT,
      // STATE_is-post): env(1) hands them to node instead.
      'env',
      '--ignore-environment',
      ...Object.entries(env).map(([key, value]) => `${key}=${value}`),
      process.execPath,
      join(REPO, 'dist', 'index.js')
    ]
  })
}

describe('a runner with cgroup v1 and no cgroup2 hierarchy', () => {
  const engine = engineFor('v1')

  it('boots systemd 252 on the v1 mounts, made writable in its own namespace', async () => {
    const main = await bootsOnV1(engine(), { place: LEGACY_RUNNER, inputs: { image: 'debian:bookworm' } }, [
      'cgroup v1 mounts remounted read-write'
    ])
    expect(main.log).toContain('cgroup v1, engine 20.10')
    expect(main.outputs['cgroup-path']).toBe(`/docker/${main.outputs['container-id']}/init.scope`)
  })

  it('refuses systemd 258 and later at once, with the reason, and leaves nothing behind', async () => {
    const main = await refusesNewSystemd(engine(), LEGACY_RUNNER)
    expect(main.log).toMatch(/the container exited with code 78 before systemd was up/)
    expect(main.log).not.toMatch(/within the boot timeout/)
  })
})

// The runner's mounts say nothing of a remote engine's host. Here the runner
// sees cgroup2 beside the v1 mounts, while the engine runs where there is no
// cgroup2 hierarchy at all: runc gives the container no cgroup2 cgroup, and
// the cgroup2 layout the runner's view suggests would be the host's root.
describe('an engine on cgroup v1 alone, driven from a runner that sees cgroup2', () => {
  const engine = engineFor('v1only')

  it("keeps the v1 mounts when the cgroup2 root is not the container's, and writes no cgroup outside it", async () => {
    const main = await bootsOnV1(
      engine(),
      { inputs: { image: 'debian:bookworm' } },
      [
        'the engine gave this container no cgroup2 subtree of its own',
        'cgroup v1 mounts remounted read-write',
        "cgroup2 kept out: its root here is not the container's own"
      ],
      ["v1 mounts replaced by the container's cgroup2 subtree"]
    )
    expect(main.log).toContain('cgroup hybrid, engine 20.10')
  })

  it('refuses systemd 258 and later there with the reason, at once', async () => {
    await refusesNewSystemd(engine())
  })
})

describe('a systemd older than 233 on a hybrid host', () => {
  const engine = engineFor('v1')

  it('keeps the v1 mounts, which it needs, instead of cgroup2 alone', async () => {
    const fixture = join(REPO, '__tests__', 'e2e', 'fixtures', 'old-systemd')
    await bootsOnV1(engine(), { inputs: { dockerfile: join(fixture, 'Dockerfile') } }, [
      'systemd 219 predates cgroup2-only hosts: the v1 mounts are kept',
      'cgroup v1 mounts remounted read-write'
    ])
  })
})

/** The lab engine of a describe block, and no container of its tests left after it. */
function engineFor(name: EngineName): () => Engine {
  let engine: Engine
  beforeAll(async () => {
    engine = await labEngine(name)
  })
  afterAll(async () => {
    for (const id of await managedContainers(engine)) await engine.docker(['rm', '--force', id])
  })
  return () => engine
}

/**
 * Runs the job; systemd boots with `lines` (and none of `absent`) in its
 * container's log, makes no cgroup outside its own, and the post step leaves
 * nothing behind.
 */
async function bootsOnV1(
  engine: Engine,
  options: { place?: Place; inputs: Record<string, string> },
  lines: string[],
  absent: string[] = []
): Promise<StepResult> {
  const before = await cgroupSnapshot()
  const job = await createJob({ dockerHost: engine.host, ...options })
  const main = await job.main()
  expect(main.exitCode).toBe(0)

  const id = main.outputs['container-id']
  const logs = await engine.ok(['logs', id])
  for (const line of lines) expect(logs).toContain(line)
  for (const line of absent) expect(logs).not.toContain(line)
  expect(await engine.ok(['exec', id, 'systemctl', 'is-system-running'])).toMatch(/^(running|degraded)$/)

  const during = newCgroups(before, await cgroupSnapshot())
  expect(during.some(dir => dir.includes(`${id}/init.scope`))).toBe(true)
  expect(outsideContainers(during)).toEqual([])
  expect((await job.post()).exitCode).toBe(0)
  expect(await managedContainers(engine)).toEqual([])
  return main
}

/**
 * systemd 258 and later on v1 mounts: refused with the reason, and nothing
 * left. The boot timeout is far beyond any build: "at once" means the
 * container exits with the shim's code, never that the wait runs out.
 */
async function refusesNewSystemd(engine: Engine, place?: Place): Promise<StepResult> {
  const inputs = { image: 'debian:sid', 'boot-timeout': '3600' }
  const job = await createJob({ dockerHost: engine.host, place, inputs })
  const main = await job.main()
  expect(main.exitCode).not.toBe(0)
  expect(main.log).toMatch(/systemd-container: systemd \d+ refuses cgroup v1, and this host has no cgroup2 hierarchy/)
  expect(main.log).toMatch(/Likely cause: systemd 258 and later need cgroup v2/)
  expect((await job.post()).exitCode).toBe(0)
  expect(await managedContainers(engine)).toEqual([])
  return main
}
