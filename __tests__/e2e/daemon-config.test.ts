import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'

import { createJob } from '../../scripts/runner.mjs'
import { RUNNER_SUITES, RunnerSuite, SimulatedRunner, startRunner } from './support/runner-sim.js'

const DAEMON_JSON = '/etc/docker/daemon.json'

// cgroup-parent end to end in a simulated GitHub runner: the action runs as
// the non-root `runner` user, changes daemon.json through sudo, restarts
// docker.service, and the post step puts everything back.
describe.each(Object.keys(RUNNER_SUITES) as RunnerSuite[])('cgroup-parent in the %s runner', suite => {
  let runner: SimulatedRunner

  beforeAll(async () => {
    runner = await startRunner(suite)
  })

  afterAll(async () => {
    await runner?.stop()
  })

  beforeEach(async () => {
    await setDaemonJson(runner, undefined)
  })

  const job = (inputs: Record<string, string>) => createJob({ place: runner.place, inputs })

  it('puts the container under docker.slice, boots it, and restores the daemon', async () => {
    const before = await runnerCgroups(runner)
    const run = await job({ 'cgroup-parent': 'docker.slice' })
    const main = await run.main()
    expect(main.exitCode).toBe(0)
    expect(main.log).toContain(`${DAEMON_JSON}: cgroup-parent set to docker.slice (new file)`)

    const id = main.outputs['container-id']
    // What systemd made, with writable cgroups on 28.5, stays in its own scope.
    const made = [...(await runnerCgroups(runner))].filter(dir => !before.has(dir))
    expect(made.some(dir => dir.endsWith(`/docker-${id}.scope/init.scope`))).toBe(true)
    expect(made.filter(dir => !dir.includes(`/docker-${id}.scope`) && dir !== '/sys/fs/cgroup/docker.slice')).toEqual([])
    expect(main.outputs['cgroup-path']).toBe(`/docker.slice/docker-${id}.scope/init.scope`)
    expect(main.outputs.strategy).toBe(suite === 'sid' ? 'writable-cgroups' : 'sys-admin')
    expect(JSON.parse(await runner.ok(['cat', DAEMON_JSON]))).toEqual({ 'cgroup-parent': 'docker.slice' })
    expect(await runner.ok(['docker', 'exec', id, 'systemctl', 'is-system-running'])).toBe('running')
    expect(await runner.ok(['docker', 'info', '--format', '{{.CgroupDriver}} {{.CgroupVersion}}'])).toBe('systemd 2')

    const post = await run.post()
    expect(post.exitCode).toBe(0)
    expect(post.log).toContain(`${DAEMON_JSON} removed, as there was none`)
    expect((await runner.run(['test', '-e', DAEMON_JSON])).exitCode).not.toBe(0)
    expect(await runner.ok(['docker', 'ps', '--all', '--quiet'])).toBe('')
    expect(await freshContainerCgroup(runner)).toMatch(/^\/system\.slice\/docker-[0-9a-f]{64}\.scope$/)
  })

  it('keeps the other settings, and puts the file back byte for byte', async () => {
    const original = '{\n\t"log-level": "warn",\n\t"log-opts": {"max-size": "10m", "max-file": "3"}\n}'
    await setDaemonJson(runner, original)

    const run = await job({ 'cgroup-parent': 'docker.slice' })
    expect((await run.main()).exitCode).toBe(0)
    expect(JSON.parse(await runner.ok(['cat', DAEMON_JSON]))).toEqual({
      'log-level': 'warn',
      'log-opts': { 'max-size': '10m', 'max-file': '3' },
      'cgroup-parent': 'docker.slice'
    })

    const post = await run.post()
    expect(post.exitCode).toBe(0)
    expect(post.log).toContain(`${DAEMON_JSON} restored byte for byte`)
    expect(await runner.ok(['base64', '--wrap=0', DAEMON_JSON])).toBe(Buffer.from(original).toString('base64'))
    expect(await runner.ok(['docker', 'info', '--format', '{{.LoggingDriver}}'])).toBe('json-file')
  })

  it('leaves the change in place when restore-daemon is false', async () => {
    const run = await job({ 'cgroup-parent': 'docker.slice', 'restore-daemon': 'false' })
    expect((await run.main()).exitCode).toBe(0)

    const post = await run.post()
    expect(post.exitCode).toBe(0)
    expect(post.log).toContain(`${DAEMON_JSON} keeps its cgroup-parent, as restore-daemon is false`)
    expect(JSON.parse(await runner.ok(['cat', DAEMON_JSON]))).toEqual({ 'cgroup-parent': 'docker.slice' })
    expect(await runner.ok(['docker', 'ps', '--all', '--quiet'])).toBe('')
    expect(await freshContainerCgroup(runner)).toMatch(/^\/docker\.slice\/docker-[0-9a-f]{64}\.scope$/)
  })

  it('changes the file named by daemon-config, where the engine reads its settings', async () => {
    const custom = '/etc/docker/ci.json'
    const original = '{"log-level": "warn"}'
    await runner.ok(
      ['sh', '-c', `echo 'DOCKER_OPTS="--config-file ${custom}"' > /etc/default/docker && printf '%s' '${original}' > ${custom}`],
      { root: true }
    )
    await setDaemonJson(runner, undefined)
    try {
      const run = await job({ 'cgroup-parent': 'docker.slice', 'daemon-config': custom })
      const main = await run.main()
      expect(main.exitCode).toBe(0)
      expect(main.outputs['cgroup-path']).toMatch(/^\/docker\.slice\/docker-[0-9a-f]{64}\.scope\//)
      expect(JSON.parse(await runner.ok(['cat', custom]))).toEqual({ 'log-level': 'warn', 'cgroup-parent': 'docker.slice' })
      expect((await runner.run(['test', '-e', DAEMON_JSON])).exitCode).not.toBe(0)

      const post = await run.post()
      expect(post.exitCode).toBe(0)
      expect(post.log).toContain(`${custom} restored byte for byte`)
      expect(await runner.ok(['cat', custom])).toBe(original)
      expect(await freshContainerCgroup(runner)).toMatch(/^\/system\.slice\//)
    } finally {
      await runner.ok(['rm', '-f', '/etc/default/docker', custom], { root: true })
      await setDaemonJson(runner, undefined)
    }
  })

  it('refuses a value that does not fit the systemd driver, and touches nothing', async () => {
    const started = await engineStartTime(runner)
    const run = await job({ 'cgroup-parent': 'docker' })
    const main = await run.main()
    expect(main.exitCode).not.toBe(0)
    expect(main.log).toMatch(
      /input 'cgroup-parent': the engine uses the systemd cgroup driver, which takes a slice name ending in \.slice \(for example docker\.slice\), not 'docker'; nothing was changed/
    )
    expect((await runner.run(['test', '-e', DAEMON_JSON])).exitCode).not.toBe(0)
    expect(await engineStartTime(runner)).toBe(started)
    expect((await run.post()).exitCode).toBe(0)
    expect(await runner.ok(['docker', 'ps', '--all', '--quiet'])).toBe('')
  })

  it('refuses to restart an engine that runs other containers', async () => {
    const service = await runner.ok(['docker', 'run', '--detach', '--name', 'job-service', 'debian:bookworm', 'sleep', '300'])
    try {
      const started = await engineStartTime(runner)
      const run = await job({ 'cgroup-parent': 'docker.slice' })
      const main = await run.main()
      expect(main.exitCode).not.toBe(0)
      expect(main.log).toContain(
        "input 'cgroup-parent': restarting the engine would stop the running container(s) job-service"
      )
      expect((await runner.run(['test', '-e', DAEMON_JSON])).exitCode).not.toBe(0)
      expect(await engineStartTime(runner)).toBe(started)
      expect(await runner.ok(['docker', 'inspect', '--format', '{{.State.Running}}', service])).toBe('true')
      expect((await run.post()).exitCode).toBe(0)
    } finally {
      await runner.ok(['docker', 'rm', '--force', service])
    }
  })

  it('puts the file back but leaves the restart for later when other containers run by the post step', async () => {
    const run = await job({ 'cgroup-parent': 'docker.slice' })
    expect((await run.main()).exitCode).toBe(0)
    const other = await runner.ok(['docker', 'run', '--detach', '--name', 'another-job', 'debian:bookworm', 'sleep', '300'])
    try {
      const started = await engineStartTime(runner)
      const post = await run.post()
      expect(post.exitCode).toBe(0)
      expect(post.log).toContain(`${DAEMON_JSON} removed, as there was none`)
      expect(post.log).toContain(
        '::warning::The engine keeps its cgroup-parent until its next restart: restarting it now would stop the running container(s) another-job'
      )
      expect((await runner.run(['test', '-e', DAEMON_JSON])).exitCode).not.toBe(0)
      expect(await engineStartTime(runner)).toBe(started)
      expect(await runner.ok(['docker', 'inspect', '--format', '{{.State.Running}}', other])).toBe('true')
      expect(await runner.ok(['docker', 'ps', '--quiet'])).toBe(other.slice(0, 12))
    } finally {
      await runner.ok(['docker', 'rm', '--force', other])
    }
  })

  it('refuses a daemon.json that is not JSON, and leaves it as it is', async () => {
    const broken = '{"log-level": "warn",'
    await runner.ok(['sh', '-c', `printf '%s' '${broken}' > ${DAEMON_JSON}`], { root: true })
    const started = await engineStartTime(runner)

    const run = await job({ 'cgroup-parent': 'docker.slice' })
    const main = await run.main()
    expect(main.exitCode).not.toBe(0)
    expect(main.log).toMatch(/\/etc\/docker\/daemon\.json: it is not valid JSON .*it was left as it is/)
    expect(await runner.ok(['cat', DAEMON_JSON])).toBe(broken)
    expect(await engineStartTime(runner)).toBe(started)
    expect((await run.post()).exitCode).toBe(0)
  })

  it('leaves an engine that has the value already alone', async () => {
    const original = '{"cgroup-parent": "docker.slice"}\n'
    await setDaemonJson(runner, original)
    const started = await engineStartTime(runner)

    const run = await job({ 'cgroup-parent': 'docker.slice' })
    const main = await run.main()
    expect(main.exitCode).toBe(0)
    expect(main.log).toContain('already sets cgroup-parent docker.slice: the engine is left as it is')
    expect(main.outputs['cgroup-path']).toMatch(/^\/docker\.slice\//)
    expect((await run.post()).exitCode).toBe(0)
    expect(await engineStartTime(runner)).toBe(started)
    expect(await runner.ok(['cat', DAEMON_JSON])).toBe(original.trim())
  })

  it('puts the old file back when the engine does not come back, and shows its log', async () => {
    // dockerd refuses to start when daemon.json repeats a flag of its unit (-H fd://).
    const original = '{"hosts": ["unix:///var/run/docker.sock"]}'
    await runner.ok(['sh', '-c', `printf '%s' '${original}' > ${DAEMON_JSON}`], { root: true })

    try {
      const run = await job({ 'cgroup-parent': 'docker.slice' })
      const main = await run.main()
      expect(main.exitCode).not.toBe(0)
      expect(main.log).toContain('was put back as it was, but the engine did not come back with it either')
      expect(main.log).toMatch(/specified both as a flag and in the configuration file/)
      expect(await runner.ok(['cat', DAEMON_JSON])).toBe(original)
      const post = await run.post()
      expect(post.exitCode).toBe(0)
      expect(post.log).not.toContain('Restore')
    } finally {
      await setDaemonJson(runner, undefined)
    }
  })
})

/** Writes (or removes) daemon.json as root and restarts docker the way an administrator would. */
async function setDaemonJson(runner: SimulatedRunner, content: string | undefined): Promise<void> {
  const write =
    content === undefined
      ? `rm -f ${DAEMON_JSON}`
      : `printf '%s' '${content.replace(/'/g, `'\\''`)}' > ${DAEMON_JSON}`
  await runner.ok(['sh', '-c', `${write} && systemctl reset-failed docker.service docker.socket; systemctl restart docker`], {
    root: true
  })
  await runner.ok(['docker', 'info', '--format', '{{.ServerVersion}}'])
}

async function engineStartTime(runner: SimulatedRunner): Promise<string> {
  return runner.ok(['systemctl', 'show', '--property=ActiveEnterTimestampMonotonic', 'docker.service'])
}

/** Every cgroup in the runner, as the runner sees its own cgroup2 tree. */
async function runnerCgroups(runner: SimulatedRunner): Promise<Set<string>> {
  return new Set((await runner.ok(['find', '/sys/fs/cgroup', '-mindepth', '1', '-type', 'd'])).split('\n'))
}

/** Where a plain container of the engine lands now: tells the engine's configuration. */
async function freshContainerCgroup(runner: SimulatedRunner): Promise<string> {
  const id = await runner.ok(['docker', 'run', '--detach', 'debian:bookworm', 'sleep', '60'])
  try {
    const pid = await runner.ok(['docker', 'inspect', '--format', '{{.State.Pid}}', id])
    const cgroup = await runner.ok(['cat', `/proc/${pid}/cgroup`])
    return /^0::(.*)$/m.exec(cgroup)?.[1] ?? ''
  } finally {
    await runner.ok(['docker', 'rm', '--force', id])
  }
}
