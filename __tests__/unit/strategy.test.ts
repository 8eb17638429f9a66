import { describe, expect, it } from '@jest/globals'

import { CgroupLayout, HostProbe, parseEngineInfo, supportsWritableCgroups } from '../../src/core/host-probe.js'
import { chooseStrategy, RequestedStrategy } from '../../src/core/strategy.js'
import { dockerInfo } from './fixtures/samples.js'

function host(version: string, layout: CgroupLayout, securityOptions = ['name=cgroupns']): HostProbe {
  const engine = parseEngineInfo(
    dockerInfo({ ServerVersion: version, CgroupVersion: layout === 'v2' ? '2' : '1', SecurityOptions: securityOptions })
  )
  return { cgroupLayout: layout, runnerCgroupLayout: layout, engine, writableCgroups: supportsWritableCgroups(engine) }
}

describe('chooseStrategy', () => {
  it('uses writable cgroups with no capability on cgroup v2 with Docker 28', () => {
    const strategy = chooseStrategy(host('28.5.1', 'v2'), 'auto')
    expect(strategy).toMatchObject({
      name: 'writable-cgroups',
      runArgs: ['--cgroupns=private', '--security-opt', 'writable-cgroups=true'],
      cgroupSetup: 'none'
    })
    expect(strategy.reason).toBe(
      'cgroup v2, engine 28.5.1: writable cgroups in a private cgroup namespace, no extra capability'
    )
  })

  it('adds CAP_SYS_ADMIN and the remount shim on cgroup v2 with an older engine', () => {
    expect(chooseStrategy(host('26.1.5', 'v2'), 'auto')).toMatchObject({
      name: 'sys-admin',
      runArgs: ['--cgroupns=private', '--cap-add', 'SYS_ADMIN'],
      cgroupSetup: 'remount-v2'
    })
  })

  it('lifts AppArmor only where AppArmor confines containers', () => {
    const strategy = chooseStrategy(host('26.1.5', 'v2', ['name=apparmor', 'name=cgroupns']), 'auto')
    expect(strategy.runArgs).toEqual(['--cgroupns=private', '--cap-add', 'SYS_ADMIN', '--security-opt', 'apparmor=unconfined'])
    expect(strategy.reason).toContain('AppArmor unconfined')
  })

  it('gives systemd the cgroup2 subtree on a hybrid host', () => {
    expect(chooseStrategy(host('20.10.24', 'hybrid'), 'auto')).toMatchObject({ name: 'sys-admin', cgroupSetup: 'unified' })
  })

  it('remounts the v1 mounts on a host with no cgroup2 at all', () => {
    expect(chooseStrategy(host('20.10.24', 'v1'), 'auto')).toMatchObject({ name: 'sys-admin', cgroupSetup: 'remount-v1' })
  })

  it('never shares the host cgroup namespace', () => {
    const requests: RequestedStrategy[] = ['auto', 'sys-admin', 'privileged']
    for (const layout of ['v1', 'hybrid', 'v2'] as CgroupLayout[]) {
      for (const requested of requests) {
        const { runArgs } = chooseStrategy(host('20.10.24', layout), requested)
        expect(runArgs).toContain('--cgroupns=private')
        expect(runArgs.join(' ')).not.toMatch(/cgroupns=host|\/sys\/fs\/cgroup/)
      }
    }
  })

  it('runs privileged only when asked, and says so', () => {
    const strategy = chooseStrategy(host('28.5.1', 'v2'), 'privileged')
    expect(strategy).toMatchObject({ name: 'privileged', runArgs: ['--privileged', '--cgroupns=private'], cgroupSetup: 'none' })
    expect(strategy.reason).toMatch(/\(asked for\)$/)
  })

  it('lets the user force sys-admin on an engine that has writable cgroups', () => {
    expect(chooseStrategy(host('28.5.1', 'v2'), 'sys-admin').cgroupSetup).toBe('remount-v2')
  })

  it.each([
    ['20.10.24', 'v2'],
    ['28.5.1', 'hybrid']
  ] as [string, CgroupLayout][])('refuses writable-cgroups on engine %s, cgroup %s', (version, layout) => {
    expect(() => chooseStrategy(host(version, layout), 'writable-cgroups')).toThrow(
      /'writable-cgroups' needs cgroup v2 and Docker 28.0 or later.*use 'auto' or 'sys-admin'/
    )
  })
})
