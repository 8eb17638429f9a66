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
