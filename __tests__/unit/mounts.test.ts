import { describe, expect, it } from '@jest/globals'

import { exposesCgroupTree, volumeExposesCgroupTree } from '../../src/core/mounts.js'

describe('exposesCgroupTree', () => {
  it.each([
    '/',
    '/sys',
    '/sys/',
    '/sys/fs',
    '//sys/./fs/',
    '/sys/fs/cgroup',
    '/sys/fs/cgroup/system.slice',
    '/sys/../sys/fs',
    '/proc',
    '/proc/1/root'
  ])('%p brings the host cgroup tree along, or leads to it', path => expect(exposesCgroupTree(path)).toBe(true))

  it.each(['/srv', '/sys/kernel', '/sys/fs/cgroupx', '/home/runner/sys', '/procedures', 'data'])('%p does not', path =>
    expect(exposesCgroupTree(path)).toBe(false)
  )
})

describe('volumeExposesCgroupTree', () => {
  it.each([
    [{ type: 'cgroup2', device: 'cgroup2' }],
    [{ type: 'cgroup', device: 'cgroup', o: 'none,name=x' }],
    [{ type: 'proc', device: 'proc' }],
    [{ type: 'sysfs', device: 'sysfs' }],
    [{ type: 'none', device: '/sys', o: 'bind' }],
    [{ type: 'none', device: '/', o: 'ro,rbind' }]
  ])('refuses a volume with the driver options %j', async options => {
    await expect(volumeExposesCgroupTree(options)).resolves.toBe(true)
  })

  it.each([[null], [{}], [{ type: 'tmpfs', device: 'tmpfs', o: 'size=100m' }], [{ type: 'none', device: '/srv', o: 'bind' }]])(
    'lets %j through',
    async options => {
      await expect(volumeExposesCgroupTree(options)).resolves.toBe(false)
    }
  )
})
