import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'

import {
  cgroupSnapshot,
  Engine,
  EngineName,
  labEngine,
  managedContainers,
  newCgroups,
  outsideContainers
} from './support/engine.js'
import { createJob } from '../../scripts/runner.mjs'

// The main job of the action on each lab engine: dist/ runs as a runner runs
// it, systemd boots, a unit starts, and the post step leaves nothing behind.
describe.each<[EngineName, string]>([
  ['v2', 'remount-v2'],
  ['v1', 'unified']
])('boot on the %s engine', (engineName, cgroupSetup) => {
  let engine: Engine
  let before: Set<string>

  beforeAll(async () => {
    engine = await labEngine(engineName)
    before = await cgroupSnapshot()
  })

  afterAll(async () => {
    for (const id of await managedContainers(engine)) await engine.docker(['rm', '-f', id])
  })

  it('boots systemd to running, lets a unit start, and cleans up in the post step', async () => {
    const run = await createJob({ dockerHost: engine.host })
    const main = await run.main()
    expect(main.log).toContain(cgroupSetup === 'unified' ? 'cgroup hybrid' : 'cgroup v2')
    expect(main.exitCode).toBe(0)

    const id = main.outputs['container-id']
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(main.outputs).toMatchObject({
      'cgroup-version': engineName === 'v2' ? '2' : '1',
      strategy: 'sys-admin',
      'systemd-version': '252'
    })
    expect(Number(main.outputs['boot-time'])).toBeGreaterThan(0)
    expect(main.outputs['cgroup-path']).toBe(`/docker/${id}/init.scope`)
    expect(main.outputs['container-name']).toMatch(/^systemd-e2e-/)
    expect(main.outputs.image).toMatch(/^systemd-container\/debian-bookworm:/)

    expect(await engine.ok(['exec', id, 'systemctl', 'is-system-running'])).toBe('running')
    expect(await engine.ok(['exec', id, 'cat', '/proc/1/comm'])).toBe('systemd')
    expect(await engine.ok(['exec', id, 'cat', '/proc/self/cgroup'])).not.toContain('/docker/')
    const logs = await engine.ok(['logs', id])
    expect(logs).toContain(SETUP_LINES[cgroupSetup])

    await startUnit(engine, id)
    await expectWorkspaceMounted(engine, id, run.workspace)

    const during = newCgroups(before, await cgroupSnapshot())
    expect(during.filter(dir => dir.includes(`${id}/init.scope`)).length).toBeGreaterThan(0)
    expect(outsideContainers(during)).toEqual([])

    const post = await run.post()
    expect(post.exitCode).toBe(0)
    expect(post.log).toContain('shut down cleanly')
    expect(await managedContainers(engine)).toEqual([])
    const after = newCgroups(before, await cgroupSnapshot())
    expect(after.filter(dir => dir.includes(id))).toEqual([])
    expect(outsideContainers(after)).toEqual([])
  })
})

const SETUP_LINES: Record<string, string> = {
  'remount-v2': 'cgroup2 remounted read-write',
  unified: "v1 mounts replaced by the container's cgroup2 subtree"
}

async function startUnit(engine: Engine, id: string): Promise<void> {
  const unit = '[Service]\nExecStart=/bin/sleep infinity\n'
  await engine.ok(['exec', id, 'sh', '-c', `printf '${unit}' > /etc/systemd/system/e2e-probe.service`])
  await engine.ok(['exec', id, 'systemctl', 'daemon-reload'])
  await engine.ok(['exec', id, 'systemctl', 'start', 'e2e-probe.service'])
  expect(await engine.ok(['exec', id, 'systemctl', 'is-active', 'e2e-probe.service'])).toBe('active')
  const cgroup = await engine.ok(['exec', id, 'systemctl', 'show', '--property=ControlGroup', 'e2e-probe.service'])
  expect(cgroup).toBe('ControlGroup=/system.slice/e2e-probe.service')
}

async function expectWorkspaceMounted(engine: Engine, id: string, workspace: string): Promise<void> {
  const mounts = await engine.ok(['exec', id, 'cat', '/proc/self/mountinfo'])
  expect(mounts).toContain(` ${workspace} `)
}
