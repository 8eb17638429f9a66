import { describe, expect, it } from '@jest/globals'

import { parseProcCgroup, underCgroupParent } from '../../src/core/container.js'

const ID = '3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e'

/** /proc/PID/cgroup of a container's init on a host with cgroup v2 only. */
const V2 = `0::/docker.slice/docker-${ID}.scope/init.scope\n`

/** The same on a hybrid host: v1 controllers, name=systemd, and the unified line. */
const HYBRID = [
  `12:pids:/docker/${ID}`,
  `11:memory:/docker/${ID}`,
  `10:cpu,cpuacct:/docker/${ID}`,
  `9:devices:/docker/${ID}`,
  `1:name=systemd:/docker/${ID}/init.scope`,
  `0::/docker/${ID}/init.scope`,
  ''
].join('\n')

/** The same on a v1 host: no unified line at all. */
const V1 = [
  `12:freezer:/ci/${ID}`,
  `11:blkio:/ci/${ID}`,
  `4:cpu,cpuacct:/ci/${ID}`,
  `1:name=systemd:/ci/${ID}/init.scope`,
  ''
].join('\n')

describe('parseProcCgroup', () => {
  it('reads the unified line on a v2 host', () => {
    expect(parseProcCgroup(V2, 'v2')).toBe(`/docker.slice/docker-${ID}.scope/init.scope`)
  })

  it('reads the unified line, not a controller, on a hybrid host', () => {
    expect(parseProcCgroup(HYBRID, 'hybrid')).toBe(`/docker/${ID}/init.scope`)
  })

  it('reads the name=systemd line on a v1 host', () => {
    expect(parseProcCgroup(V1, 'v1')).toBe(`/ci/${ID}/init.scope`)
  })

  it('reads the name=systemd line of a hybrid text when told the host is v1', () => {
    expect(parseProcCgroup(HYBRID, 'v1')).toBe(`/docker/${ID}/init.scope`)
  })

  it('finds nothing where the wanted line is missing', () => {
    expect(parseProcCgroup(V1, 'v2')).toBeUndefined()
    expect(parseProcCgroup(V1, 'hybrid')).toBeUndefined()
    expect(parseProcCgroup(V2, 'v1')).toBeUndefined()
    expect(parseProcCgroup('', 'v2')).toBeUndefined()
  })

  it('reads the root cgroup and a text without a final newline', () => {
    expect(parseProcCgroup('0::/', 'v2')).toBe('/')
    expect(parseProcCgroup(`0::/ci/${ID}`, 'v2')).toBe(`/ci/${ID}`)
  })
})

describe('underCgroupParent', () => {
  describe('with slices (systemd driver)', () => {
    it('puts docker.slice/docker-ID.scope under docker.slice', () => {
      expect(underCgroupParent(`/docker.slice/docker-${ID}.scope/init.scope`, 'docker.slice')).toBe(true)
    })

    it('does not put the default system.slice under docker.slice', () => {
      expect(underCgroupParent(`/system.slice/docker-${ID}.scope/init.scope`, 'docker.slice')).toBe(false)
    })

    it('finds a nested slice, which systemd places under its parent slices', () => {
      expect(underCgroupParent(`/ci.slice/ci-jobs.slice/docker-${ID}.scope`, 'ci-jobs.slice')).toBe(true)
    })

    it('does not take the parent slice alone for the nested one', () => {
      expect(underCgroupParent(`/ci.slice/docker-${ID}.scope`, 'ci-jobs.slice')).toBe(false)
    })
  })

  describe('with paths (cgroupfs driver)', () => {
    it('puts /ci/ID/init.scope under /ci', () => {
      expect(underCgroupParent(`/ci/${ID}/init.scope`, '/ci')).toBe(true)
      expect(underCgroupParent(`/ci/${ID}/init.scope`, 'ci')).toBe(true)
      expect(underCgroupParent(`/ci/${ID}/init.scope`, '/ci/')).toBe(true)
    })

    it('puts a nested path under its parent path', () => {
      expect(underCgroupParent(`/actions/jobs/${ID}/init.scope`, '/actions/jobs')).toBe(true)
    })

    it('puts a relative parent under the engine’s own cgroup', () => {
      expect(underCgroupParent(`/system.slice/containerd.service/ci/systemd/${ID}`, 'ci/systemd')).toBe(true)
    })

    it('does not put the default /docker/ID under /ci', () => {
      expect(underCgroupParent(`/docker/${ID}/init.scope`, '/ci')).toBe(false)
    })

    // Only the parent's last part is looked for: a container left in the
    // engine's default /docker/ID passes for one under /ci/docker.
    it('does not put the default /docker/ID under /ci/docker', () => {
      expect(underCgroupParent(`/docker/${ID}/init.scope`, '/ci/docker')).toBe(false)
    })

    it('does not put /jobs/ID under /actions/jobs', () => {
      expect(underCgroupParent(`/jobs/${ID}/init.scope`, '/actions/jobs')).toBe(false)
    })
  })
})
