import { afterAll, describe, expect, it } from '@jest/globals'

import { createJob } from '../../scripts/runner.mjs'
import { EngineName, labEngine, managedContainers } from './support/engine.js'

// The matrix the README promises, built for real from debootstrap base images:
// every Debian suite from systemd 247 to 262, on the cgroup v2 engine, and the
// oldest and newest on the hybrid v1 host, where systemd 258+ refuses v1.
const MATRIX: [EngineName, string, RegExp][] = [
  ['v2', 'bullseye', /^247$/],
  ['v2', 'bookworm', /^252$/],
  ['v2', 'trixie', /^257$/],
  ['v2', 'sid', /^(2[6-9]\d|258|259)$/],
  ['v1', 'bullseye', /^247$/],
  ['v1', 'sid', /^(2[6-9]\d|258|259)$/]
]

describe.each(MATRIX)('on the %s engine, debian:%s', (engineName, suite, systemdVersion) => {
  afterAll(async () => {
    const engine = await labEngine(engineName)
    for (const id of await managedContainers(engine)) await engine.docker(['rm', '--force', id])
  })

  it('builds a systemd image from the base, boots it to running, and removes it', async () => {
    const engine = await labEngine(engineName)
    const job = await createJob({ dockerHost: engine.host, inputs: { image: `debian:${suite}` } })

    const main = await job.main()
    expect(main.log).toMatch(/Image: Debian GNU\/Linux .*systemd installed with apt/)
    expect(main.exitCode).toBe(0)
    expect(main.outputs['systemd-version']).toMatch(systemdVersion)

    const id = main.outputs['container-id']
    expect(await engine.ok(['exec', id, 'systemctl', 'is-system-running'])).toBe('running')
    expect(await engine.ok(['exec', id, 'journalctl', '--boot', '--lines', '5', '--no-pager'])).not.toBe('')
    expect(await engine.ok(['inspect', '--format', '{{.Config.StopSignal}}', main.outputs.image])).toBe('SIGRTMIN+3')

    const post = await job.post()
    expect(post.exitCode).toBe(0)
    expect(post.log).toContain('shut down cleanly')
    expect(await managedContainers(engine)).toEqual([])
  })
})

describe('a base image that boots systemd by itself', () => {
  it('is used as it is, without a build', async () => {
    const engine = await labEngine('v2')
    const first = await createJob({ dockerHost: engine.host })
    const built = await first.main()
    expect(built.exitCode).toBe(0)
    expect((await first.post()).exitCode).toBe(0)

    // The image the action built has CMD systemd: as a base, it needs nothing more.
    const job = await createJob({ dockerHost: engine.host, inputs: { image: built.outputs.image } })
    const main = await job.main()
    expect(main.exitCode).toBe(0)
    expect(main.log).toContain('the image boots systemd already and is used as it is')
    expect(main.outputs.image).toBe(built.outputs.image)
    expect(main.log).not.toContain('building ')
    expect(await engine.ok(['exec', main.outputs['container-id'], 'systemctl', 'is-system-running'])).toBe('running')
    expect((await job.post()).exitCode).toBe(0)
  })
})
