import { describe, expect, it } from '@jest/globals'

import { managerHasForked, parseSystemdVersion } from '../../src/core/boot.js'

describe('managerHasForked', () => {
  const top = (rows: string[]) => ['PID PPID COMMAND', ...rows].join('\n')

  it('waits while the shim is still PID 1', () => {
    expect(managerHasForked(top(['4100 4080 sh', '4120 4100 mount']), 4100)).toBe(false)
  })

  it('waits while systemd has no child yet', () => {
    expect(managerHasForked(top(['4100 4080 systemd']), 4100)).toBe(false)
  })

  it('is satisfied once systemd has forked', () => {
    expect(managerHasForked(top(['4100 4080 systemd', '4130 4100 systemd-journal']), 4100)).toBe(true)
  })

  it('accepts systemd started as /sbin/init', () => {
    expect(managerHasForked(top(['4100 4080 init', '4130 4100 systemd-journal']), 4100)).toBe(true)
  })

  it('waits when the init pid is not listed', () => {
    expect(managerHasForked(top(['5000 4080 systemd', '5001 5000 dbus-daemon']), 4100)).toBe(false)
  })
})

describe('parseSystemdVersion', () => {
  it.each([
    ['systemd 252 (252.30-1~deb12u2)\n+PAM +AUDIT', '252'],
    ['systemd 247 (247.3-7+deb11u6)', '247'],
    ['systemd 262 (262~rc1-1)', '262'],
    ['', '']
  ])('reads %j', (output, version) => {
    expect(parseSystemdVersion(output)).toBe(version)
  })
})
