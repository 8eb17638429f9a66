import { beforeAll, describe, expect, it } from '@jest/globals'
import { setTimeout as sleep } from 'node:timers/promises'

import { createJob } from '../../scripts/runner.mjs'
import { diagnose } from '../../src/core/diagnose.js'
import { Engine, labEngine } from './support/engine.js'

// The recipe everyone copied from the cgroup v1 days fails on cgroup v2 with
// a read-only cgroup mount; the action's own choice boots the same image.
describe('the old recipe on the cgroup v2 engine', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await labEngine('v2')
  })

  it('dies with the read-only cgroup error, and the action boots the same image', async () => {
    const job = await createJob({ dockerHost: engine.host })
    const main = await job.main()
    expect(main.exitCode).toBe(0)
    const image = main.outputs.image
    expect(await engine.ok(['exec', main.outputs['container-id'], 'systemctl', 'is-system-running'])).toBe('running')
    expect((await job.post()).exitCode).toBe(0)

    const old = await engine.ok([
      'run', '--detach', '--tty',
      '--tmpfs', '/run', '--tmpfs', '/run/lock', '--env', 'container=docker',
      '--volume', '/sys/fs/cgroup:/sys/fs/cgroup:ro',
      image, '/lib/systemd/systemd'
    ])
    try {
      const exitCode = await waitForExit(engine, old)
      expect(exitCode).not.toBe(0)
      const logs = await engine.docker(['logs', old])
      const text = logs.stdout + logs.stderr
      expect(text).toMatch(/Failed to create \/init\.scope control group: Read-only file system/)
      expect(diagnose(text, exitCode)).toMatch(/cgroup mount is read-only/)
    } finally {
      await engine.docker(['rm', '--force', old])
    }
  })
})

async function waitForExit(engine: Engine, id: string): Promise<number> {
  for (let tries = 0; tries < 120; tries++) {
    const state = JSON.parse(await engine.ok(['inspect', '--format', '{{json .State}}', id])) as {
      Running: boolean
      ExitCode: number
    }
    if (!state.Running) return state.ExitCode
    await sleep(250)
  }
  throw new Error(`${id} was still running after 30 s: the old recipe booted?`)
}
