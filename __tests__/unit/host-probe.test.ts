import { describe, expect, it } from '@jest/globals'

import {
  describeHost,
  effectiveCgroupLayout,
  parseCgroupLayout,
  parseEngineInfo,
  supportsWritableCgroups
} from '../../src/core/host-probe.js'
import { dockerInfo, MOUNTINFO } from './fixtures/samples.js'

describe('parseCgroupLayout', () => {
  it.each(Object.entries(MOUNTINFO))('reads a %s host', (layout, mountinfo) => {
    expect(parseCgroupLayout(mountinfo)).toBe(layout)
  })

  it('calls a host with no cgroup mount at all v1', () => {
    expect(parseCgroupLayout('25 1 259:1 / / rw - ext4 /dev/root rw')).toBe('v1')
  })

  it('reads mount points with escaped spaces', () => {
    const line = '32 31 0:29 / /sys/fs/cgroup/unified\\040dir rw - cgroup2 cgroup2 rw'
    expect(parseCgroupLayout(`${MOUNTINFO.v1}\n${line}`)).toBe('hybrid')
  })
})

describe('parseEngineInfo', () => {
  it('reads Debian 20.10 on cgroup v2', () => {
    expect(parseEngineInfo(dockerInfo())).toEqual({
      version: '20.10.24+dfsg1',
      major: 20,
      minor: 10,
      cgroupDriver: 'cgroupfs',
      cgroupVersion: 2,
      defaultCgroupns: 'private',
      rootless: false,
      apparmor: false,
      selinux: false,
      liveRestore: false,
      architecture: 'x86_64'
    })
  })

  it('reads a hosted runner: docker-ce 28 with systemd driver and AppArmor', () => {
    const info = parseEngineInfo(
      dockerInfo({
        ServerVersion: '28.0.4',
        CgroupDriver: 'systemd',
        SecurityOptions: ['name=apparmor', 'name=seccomp,profile=builtin', 'name=cgroupns']
      })
    )
    expect(info).toMatchObject({ major: 28, minor: 0, cgroupDriver: 'systemd', apparmor: true })
    expect(supportsWritableCgroups(info)).toBe(true)
  })

  it('reads a rootless engine with SELinux on cgroup v1', () => {
    const info = parseEngineInfo(
      dockerInfo({ CgroupVersion: '1', SecurityOptions: ['name=selinux', 'name=rootless'] })
    )
    expect(info).toMatchObject({ rootless: true, selinux: true, cgroupVersion: 1, defaultCgroupns: 'host' })
  })

  it('refuses the answer of an unreachable engine', () => {
    const json = JSON.stringify({ ServerErrors: ['Cannot connect to the Docker daemon'] })
    expect(() => parseEngineInfo(json)).toThrow(/unreachable: Cannot connect/)
  })

  it('refuses an answer that is not JSON', () => {
    expect(() => parseEngineInfo('Client: Docker Engine')).toThrow(/did not return JSON/)
  })
})

describe('supportsWritableCgroups', () => {
  it.each([
    ['27.5.1', '2', false],
    ['28.0.0', '2', true],
    ['28.5.2', '1', false],
    ['29.1.0', '2', true]
  ])('engine %s on cgroup v%s: %s', (ServerVersion, CgroupVersion, expected) => {
    expect(supportsWritableCgroups(parseEngineInfo(dockerInfo({ ServerVersion, CgroupVersion })))).toBe(expected)
  })
})

describe('effectiveCgroupLayout', () => {
  it('trusts the engine on v2 even when the runner sees hybrid mounts', () => {
    expect(effectiveCgroupLayout(parseEngineInfo(dockerInfo()), 'hybrid')).toBe('v2')
  })

  it('tells hybrid from pure v1 by the runner mounts when the engine is on v1', () => {
    const v1 = parseEngineInfo(dockerInfo({ CgroupVersion: '1' }))
    expect(effectiveCgroupLayout(v1, 'hybrid')).toBe('hybrid')
    expect(effectiveCgroupLayout(v1, 'v1')).toBe('v1')
  })
})

describe('describeHost', () => {
  it('says what was detected in one line', () => {
    const engine = parseEngineInfo(dockerInfo({ SecurityOptions: ['name=apparmor', 'name=cgroupns'] }))
    const line = describeHost({ cgroupLayout: 'v2', runnerCgroupLayout: 'v2', engine, writableCgroups: false })
    expect(line).toBe('cgroup v2, engine 20.10.24+dfsg1, cgroupfs driver, default cgroupns private, rootful, AppArmor')
  })
})
