import { beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { createJob, REPO } from '../../scripts/runner.mjs'
import { Engine, labEngine, managedContainers } from './support/engine.js'

const FIXTURES = join(REPO, '__tests__', 'e2e', 'fixtures')

// Each bad input or broken host ends in one clear error that names the input
// or the cause, and leaves no container behind, after the main step and after
// the post step.
describe('bad input and broken hosts', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await labEngine('v2')
  })

  async function expectFailure(inputs: Record<string, string>, message: RegExp, dockerHost?: string) {
    const job = await createJob({ dockerHost: dockerHost ?? engine.host, inputs, jobStatus: 'failure' })
    const main = await job.main()
    expect(main.exitCode).not.toBe(0)
    expect(errorLine(main.log)).toMatch(message)
    expect(await managedContainers(engine)).toEqual([])

    const post = await job.post()
    expect(post.exitCode).toBe(0)
    expect(await managedContainers(engine)).toEqual([])
    return main
  }

  it.each([
    [{ strategy: 'host' }, /input 'strategy': 'host' is not one of auto, writable-cgroups, sys-admin, privileged/],
    [{ 'boot-timeout': '-5' }, /input 'boot-timeout': '-5' is not a positive number of seconds/],
    [{ 'boot-timeout': 'soon' }, /input 'boot-timeout': 'soon' is not a positive number/],
    [{ 'keep-container': 'yes' }, /input 'keep-container': 'yes' is neither true nor false/],
    [{ env: 'not a variable' }, /input 'env': 'not a variable' is not of the form NAME=value/],
    [{ options: '--rm; curl evil' }, /input 'options': .* holds shell syntax/],
    [{ context: '.' }, /input 'context': applies to your own Dockerfile only/]
  ])('refuses %j before touching the engine', async (inputs, message) => {
    const main = await expectFailure(inputs, message)
    // The inputs are read before the first docker call: the probe never ran.
    expect(main.log).not.toContain('Probe the host')
    expect(main.log).not.toMatch(/^::debug::docker /m)
  })

  it('refuses a strategy the engine cannot give before the daemon is touched', async () => {
    const config = join(await mkdtemp(join(tmpdir(), 'systemd-container-daemon-')), 'daemon.json')
    await writeFile(config, '{"debug": true}')
    await expectFailure(
      { strategy: 'writable-cgroups', 'cgroup-parent': '/ci', 'daemon-config': config },
      /'writable-cgroups' needs cgroup v2 and Docker 28.0 or later/
    )
    expect(await readFile(config, 'utf8')).toBe('{"debug": true}')
  })

  it('refuses writable-cgroups on an engine older than Docker 28', async () => {
    await expectFailure({ strategy: 'writable-cgroups' }, /'writable-cgroups' needs cgroup v2 and Docker 28.0 or later, but this engine is 20\.10/)
  })

  // The lab's machines lack CAP_SYS_RESOURCE, so a privileged container cannot
  // start here: what can be proved is the clear error and the clean-up.
  it('says so when the runner cannot grant a privileged container, and leaves nothing behind', async () => {
    await expectFailure(
      { strategy: 'privileged' },
      /unable to apply caps[\s\S]*This runner cannot grant a privileged container; strategy 'auto' needs no such privilege/
    )
  })

  it('names an unreachable engine', async () => {
    await expectFailure({}, /Docker engine is unreachable .*DOCKER_HOST/, 'unix:///run/lab/no-such-engine.sock')
  })

  it('names an image that is not there and cannot be pulled', async () => {
    await expectFailure({ image: 'example.invalid/nothing:1' }, /input 'image': 'example.invalid\/nothing:1' is not on the engine and cannot be pulled/)
  })

  it('names a build that fails and why, and tags nothing and leaves no build container', async () => {
    const before = await engine.ok(['images', '--quiet', 'systemd-container/*'])
    const containers = await engine.ok(['ps', '--all', '--quiet'])
    await expectFailure(
      { packages: 'no-such-package-exists' },
      /systemd image could not be built:\n(.*\n)*E: Unable to locate package no-such-package-exists/
    )
    expect(await engine.ok(['images', '--quiet', 'systemd-container/*'])).toBe(before)
    expect(await engine.ok(['ps', '--all', '--quiet'])).toBe(containers)
  })

  it('refuses a mount of the cgroup tree the inputs cannot see: through --volumes-from, or a link', async () => {
    const holder = `e2e-sys-holder-${process.pid}`
    await engine.ok(['create', '--name', holder, '--volume', '/sys:/host-sys:ro', 'debian:bookworm', 'true'])
    const link = join(await mkdtemp(join(tmpdir(), 'systemd-container-link-')), 'sys')
    await symlink('/sys', link)
    try {
      const refused = /the mount of \/sys at \/host-sys \(from 'volumes' or 'options'\) brings the host's cgroup tree/
      await expectFailure({ options: `--volumes-from ${holder}` }, refused)
      await expectFailure({ volumes: `${link}:/host-sys` }, /the mount of \S+\/sys at \/host-sys .* brings the host's cgroup tree/)
    } finally {
      await engine.docker(['rm', '--force', holder])
    }
  })

  // The local volume driver mounts in the engine's own namespaces: a cgroup2
  // volume would be the host's root cgroup, writable, inside the container.
  it('refuses a named volume whose driver mounts a cgroup file system', async () => {
    const volume = `e2e-cgroup2-volume-${process.pid}`
    await engine.ok(['volume', 'create', '--opt', 'type=cgroup2', '--opt', 'device=cgroup2', volume])
    try {
      await expectFailure(
        { volumes: `${volume}:/host-cgroup` },
        new RegExp(`the volume ${volume} at /host-cgroup \\(from 'volumes' or 'options'\\) brings the host's cgroup tree`)
      )
    } finally {
      await engine.docker(['volume', 'rm', '--force', volume])
    }
  })

  it.each([
    ['an unknown distribution', 'printf "ID=gentoo\\nPRETTY_NAME=\\"Gentoo Linux\\"\\n" > /etc/os-release', /Gentoo Linux \(ID=gentoo\) is not a distribution the action knows; known families: .*'dockerfile'/],
    ['no package manager', 'rm /usr/bin/apt-get', /Debian GNU\/Linux 12 \(bookworm\) has none of apt-get, so systemd cannot be installed in it/]
  ])('names a base image with %s', async (what, change, message) => {
    const base = `e2e-bad-base/${what.replace(/\W+/g, '-')}:1`
    await buildBase(engine, base, change)
    await expectFailure({ image: base }, message)
  })

  it('removes a container that was created but could not start', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(18099, '127.0.0.1', resolve))
    try {
      await expectFailure({ ports: '127.0.0.1:18099:80' }, /docker start failed: .*(address already in use|port is already allocated)/)
    } finally {
      taken.close()
    }
  })

  it('names the boot-timeout input when systemd is not up in time, and removes the container', async () => {
    await expectFailure(
      { 'boot-timeout': '0.05' },
      /within the boot timeout.*; input 'boot-timeout' is 0\.05 s, raise it for an image that boots slowly/
    )
  })

  it('refuses a port above 65535 before anything is built', async () => {
    const main = await expectFailure({ ports: '70000:80' }, /input 'ports': '70000:80' names a port above 65535/)
    expect(main.log).not.toContain('Probe the host')
  })

  it('names an image without systemd, with its boot log', async () => {
    const main = await expectFailure(
      { dockerfile: join(FIXTURES, 'no-systemd', 'Dockerfile'), context: join(FIXTURES, 'no-systemd') },
      /container exited with code 127[\s\S]*Likely cause: the image has no systemd/
    )
    expect(main.log).toContain('systemd-container: no systemd in this image')
  })

  it('names an image whose /sbin/init is not systemd, without waiting for the boot timeout', async () => {
    const main = await expectFailure(
      { dockerfile: join(FIXTURES, 'other-init', 'Dockerfile'), 'boot-timeout': '3600' },
      /container exited with code 127[\s\S]*Likely cause: the image has no systemd/
    )
    expect(main.log).toContain('/sbin/init leading to systemd')
  })
})

/** Builds a small base image from debian:bookworm with one change, offline. */
async function buildBase(engine: Engine, tag: string, change: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'systemd-container-base-'))
  await writeFile(join(dir, 'Dockerfile'), `FROM debian:bookworm\nRUN ${change}\n`)
  await engine.ok(['build', '--tag', tag, dir])
}

/** The ::error:: line core.setFailed writes, with its %0A line breaks restored. */
function errorLine(log: string): string {
  const line = log.split('\n').find(entry => entry.startsWith('::error::')) ?? ''
  return line.replace(/%0A/g, '\n').replace(/%25/g, '%')
}
