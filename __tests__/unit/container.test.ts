import { describe, expect, it } from '@jest/globals'

import { ContainerSpec, MANAGED_LABEL, createArgs } from '../../src/core/container.js'
import { SHIM_SCRIPT } from '../../src/core/shim.js'
import { Strategy } from '../../src/core/strategy.js'

const strategy: Strategy = {
  name: 'sys-admin',
  runArgs: ['--cgroupns=private', '--cap-add', 'SYS_ADMIN'],
  cgroupSetup: 'remount-v2',
  reason: ''
}

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: 'systemd-test',
    image: 'systemd-container/debian-bookworm:abc',
    strategy,
    volumes: [],
    env: [],
    ports: [],
    options: [],
    labels: {},
    ...overrides
  }
}

describe('createArgs', () => {
  it('follows the container interface of systemd', () => {
    const args = createArgs(spec())
    expect(args.slice(0, 4)).toEqual(['create', '--tty', '--name', 'systemd-test'])
    expect(args).toEqual(
      expect.arrayContaining(['--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp', '--env', 'container=docker'])
    )
    expect(args[args.indexOf('--stop-signal') + 1]).toBe('SIGRTMIN+3')
  })

  it('labels the container as the action’s', () => {
    const args = createArgs(spec({ labels: { 'io.github.systemd-container.run-id': '42' } }))
    expect(args).toContain(`${MANAGED_LABEL}=true`)
    expect(args).toContain('io.github.systemd-container.run-id=42')
  })

  it('puts the strategy arguments in as they are', () => {
    const args = createArgs(spec())
    const at = args.indexOf('--cgroupns=private')
    expect(args.slice(at, at + 3)).toEqual(['--cgroupns=private', '--cap-add', 'SYS_ADMIN'])
  })

  it('ends with the shim, each part one argv element, and the cgroup setup', () => {
    const args = createArgs(spec())
    expect(args.slice(-7)).toEqual([
      '--entrypoint',
      '/bin/sh',
      'systemd-container/debian-bookworm:abc',
      '-c',
      SHIM_SCRIPT,
      'systemd-container-shim',
      'remount-v2'
    ])
  })

  it('turns each user value into its own argv elements, never a shell string', () => {
    const args = createArgs(
      spec({
        workspace: '/home/runner/work/repo',
        volumes: ['/srv/cache:/cache:ro'],
        env: ['GREETING=hello; rm -rf /', 'A=1'],
        ports: ['8080:80'],
        options: ['--memory', '1g', '--hostname', 'box one']
      })
    )
    const userPart = args.slice(args.indexOf('SYS_ADMIN') + 1, args.indexOf('--entrypoint'))
    expect(userPart).toEqual([
      '--volume',
      '/home/runner/work/repo:/home/runner/work/repo',
      '--volume',
      '/srv/cache:/cache:ro',
      '--env',
      'GREETING=hello; rm -rf /',
      '--env',
      'A=1',
      '--publish',
      '8080:80',
      '--memory',
      '1g',
      '--hostname',
      'box one'
    ])
  })
})
