import { describe, expect, it } from '@jest/globals'

import { diagnose, stripTerminalCodes } from '../../src/core/diagnose.js'

describe('diagnose', () => {
  it('names a read-only cgroup mount', () => {
    const log = 'systemd 252 running in system mode\nFailed to create /init.scope control group: Read-only file system\nFailed to allocate manager object: Read-only file system'
    expect(diagnose(log, 255)).toMatch(/cgroup mount is read-only/)
  })

  it('names systemd 258+ on a host without cgroup2, from the shim', () => {
    const log = 'systemd-container: systemd 262 refuses cgroup v1, and this host has no cgroup2 hierarchy'
    expect(diagnose(log, 78)).toMatch(/258 and later need cgroup v2/)
  })

  it('names systemd refusing a legacy hierarchy by itself', () => {
    expect(diagnose('Detected unsupported legacy cgroup hierarchy, refusing execution.', 255)).toMatch(
      /refuses cgroup v1/
    )
  })

  it('names an image without systemd', () => {
    const log = 'systemd-container: no systemd in this image (looked for /lib/systemd/systemd, ...)'
    expect(diagnose(log, 127)).toMatch(/the image has no systemd/)
  })

  it('names a mount refused by a security profile', () => {
    expect(diagnose('mount: /sys/fs/cgroup: permission denied.', 1)).toMatch(/security profile/)
  })

  it('says nothing when the cause is unknown', () => {
    expect(diagnose('Welcome to Debian GNU/Linux 12 (bookworm)!', 0)).toBeUndefined()
  })
})

describe('stripTerminalCodes', () => {
  it('drops colours and carriage returns', () => {
    expect(stripTerminalCodes('[\x1b[0;32m  OK  \x1b[0m] Started x.\r\n')).toBe('[  OK  ] Started x.\n')
  })
})
