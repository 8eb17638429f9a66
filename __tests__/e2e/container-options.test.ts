import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { createJob, REPO } from '../../scripts/runner.mjs'
import { Engine, labEngine, managedContainers } from './support/engine.js'

const DEGRADED = join(REPO, '__tests__', 'e2e', 'fixtures', 'degraded')

// What users pass in and what the post step does with it, on the v2 engine.
describe('container inputs and the post step', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await labEngine('v2')
  })

  afterAll(async () => {
    for (const id of await managedContainers(engine)) await engine.docker(['rm', '--force', id])
  })

  it('passes volumes, env, ports and raw options as separate arguments', async () => {
    const shared = await mkdtemp(join(tmpdir(), 'systemd-container-volume-'))
    await writeFile(join(shared, 'hello.txt'), 'from the host\n')
    const job = await createJob({
      dockerHost: engine.host,
      inputs: {
        volumes: `${shared}:/srv/shared:ro`,
        env: 'GREETING=hello, world; $(true)\nSECOND=2',
        ports: '127.0.0.1:18081:80',
        options: `--hostname 'box-one' --label e2e.note="two words" --label issue=#12`
      }
    })
    const main = await job.main()
    expect(main.exitCode).toBe(0)
    const id = main.outputs['container-id']

    expect(await engine.ok(['exec', id, 'cat', '/srv/shared/hello.txt'])).toBe('from the host')
    expect(await engine.ok(['exec', id, 'printenv', 'GREETING'])).toBe('hello, world; $(true)')
    expect(await engine.ok(['exec', id, 'printenv', 'SECOND'])).toBe('2')
    expect(await engine.ok(['port', id, '80/tcp'])).toBe('127.0.0.1:18081')
    expect(await engine.ok(['exec', id, 'hostname'])).toBe('box-one')
    const labels = JSON.parse(await engine.ok(['inspect', '--format', '{{json .Config.Labels}}', id]))
    expect(labels).toMatchObject({ 'e2e.note': 'two words', issue: '#12' })

    expect((await job.post()).exitCode).toBe(0)
  })

  it('builds with build-args, takes the given name, leaves the workspace out, and kills after stop-timeout', async () => {
    const name = `e2e-named-${process.pid}`
    const job = await createJob({
      dockerHost: engine.host,
      inputs: {
        dockerfile: join(DEGRADED, 'Dockerfile'),
        'build-args': 'BASE=debian:trixie',
        name,
        'mount-workspace': 'false',
        'stop-timeout': '2'
      }
    })
    const main = await job.main()
    expect(main.exitCode).toBe(0)
    expect(main.outputs['container-name']).toBe(name)
    expect(main.outputs['systemd-version']).toBe('257')
    const id = main.outputs['container-id']
    expect(await engine.ok(['inspect', '--format', '{{.Name}}', id])).toBe(`/${name}`)
    expect(await engine.ok(['exec', id, 'cat', '/proc/self/mountinfo'])).not.toContain(` ${job.workspace} `)

    // A unit that holds the shutdown up for longer than stop-timeout.
    await engine.ok([
      'exec', id, 'systemd-run', '--unit', 'slow-stop', '--property', 'TimeoutStopSec=60',
      '--property', 'ExecStop=/bin/sleep 30', '--remain-after-exit', '/bin/true'
    ])
    const post = await job.post()
    expect(post.exitCode).toBe(0)
    expect(post.log).toMatch(/::warning::systemd did not shut down within 2 s; the engine killed it/)
    expect(await managedContainers(engine)).toEqual([])
  })

  it('warns on a degraded boot, names the failed unit, and shows the journal in the post step', async () => {
    const job = await createJob({ dockerHost: engine.host, inputs: { dockerfile: join(DEGRADED, 'Dockerfile'), context: DEGRADED } })
    const main = await job.main()
    expect(main.exitCode).toBe(0)
    expect(main.log).toMatch(/::warning::systemd is degraded; failed units: broken\.service/)
    expect(await engine.ok(['exec', main.outputs['container-id'], 'systemctl', 'is-failed', 'broken.service'])).toBe('failed')

    const post = await job.post()
    expect(post.log).toContain('Failed units in the container: broken.service')
    expect(post.log).toMatch(/::group::Journal of systemd-e2e-[\s\S]*A unit that always fails/)
    expect(await managedContainers(engine)).toEqual([])
  })

  it('fails on a degraded boot when asked to, and leaves nothing behind', async () => {
    const job = await createJob({
      dockerHost: engine.host,
      inputs: { dockerfile: join(DEGRADED, 'Dockerfile'), context: DEGRADED, 'fail-on-degraded': 'true' }
    })
    const main = await job.main()
    expect(main.exitCode).not.toBe(0)
    expect(main.log).toMatch(/::error::systemd is degraded; failed units: broken\.service/)
    expect(main.log).toContain('Failed units:')
    expect(await managedContainers(engine)).toEqual([])
    expect((await job.post()).exitCode).toBe(0)
  })

  it.each([
    ['failure', 'on-failure', true],
    ['success', 'on-failure', false],
    ['success', 'always', true],
    ['failure', 'never', false]
  ])('job %s with show-journal %s: journal shown %s', async (jobStatus, showJournal, shown) => {
    const job = await createJob({ dockerHost: engine.host, jobStatus, inputs: { 'show-journal': showJournal } })
    expect((await job.main()).exitCode).toBe(0)
    const post = await job.post()
    expect(post.exitCode).toBe(0)
    expect(post.log.includes('::group::Journal of')).toBe(shown)
    if (shown) expect(post.log).toMatch(/Reached target|Startup finished/)
  })

  it('keeps the container when asked, running, after the post step', async () => {
    const job = await createJob({ dockerHost: engine.host, inputs: { 'keep-container': 'true' } })
    const main = await job.main()
    const post = await job.post()
    expect(post.log).toContain('is kept running, as keep-container asks')
    const id = main.outputs['container-id']
    expect(await engine.ok(['exec', id, 'systemctl', 'is-system-running'])).toBe('running')
    await engine.ok(['rm', '--force', id])
  })
})
