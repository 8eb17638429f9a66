import * as core from '@actions/core'

import { initCgroup, inspectState, underCgroupParent } from '../core/container.js'
import {
  applyCgroupParent,
  cgroupParentProblem,
  DaemonConfigFile,
  HostCommands,
  restoreDaemonConfig
} from '../core/daemon-config.js'
import { Docker } from '../core/docker.js'
import { HostProbe } from '../core/host-probe.js'
import { Input } from './constants.js'
import { InputError, Inputs } from './inputs.js'
import * as state from './state.js'
import { PostSettings } from './state.js'

function configFile(docker: Docker, path: string): DaemonConfigFile {
  return new DaemonConfigFile(path, new HostCommands(), docker, core)
}

/**
 * Puts the engine's containers under `cgroup-parent`. The value is checked
 * against the engine's cgroup driver before anything is touched.
 */
export async function setCgroupParent(docker: Docker, probe: HostProbe, inputs: Inputs): Promise<void> {
  if (probe.engine.rootless) {
    throw new InputError(Input.CgroupParent, 'a rootless engine has no system daemon.json to change; leave it empty')
  }
  const problem = cgroupParentProblem(inputs.cgroupParent, probe.engine.cgroupDriver)
  if (problem) throw new InputError(Input.CgroupParent, `${problem}; nothing was changed`)

  const file = configFile(docker, inputs.daemonConfig)
  await applyCgroupParent(file, inputs.cgroupParent, core, state.saveDaemonChange, () =>
    refuseToStopContainers(docker, probe)
  )
}

/**
 * A restart stops every running container unless the engine has live-restore:
 * the job's service containers, or another job's on a shared machine.
 */
async function refuseToStopContainers(docker: Docker, probe: HostProbe): Promise<void> {
  if (probe.engine.liveRestore) return
  const running = (await docker.ok(['ps', '--format', '{{.Names}}'])).split('\n').filter(Boolean)
  if (running.length === 0) return
  throw new InputError(
    Input.CgroupParent,
    `restarting the engine would stop the running container(s) ${running.join(', ')}; ` +
      "set it before they start, or enable the engine's live-restore; nothing was changed"
  )
}

/**
 * Reads where the container's init landed and, when a cgroup parent was
 * asked for, checks that it lies under it.
 */
export async function verifyCgroup(
  docker: Docker,
  containerId: string,
  probe: HostProbe,
  cgroupParent: string
): Promise<string> {
  const pid = (await inspectState(docker, containerId))?.pid ?? 0
  const read = pid > 0 ? await initCgroup(pid, probe.cgroupLayout) : undefined
  // Every driver names the container's cgroup after its ID; a path without it
  // belongs to another process with that pid (this step runs in a container).
  const path = read?.includes(containerId) ? read : undefined

  if (path === undefined) {
    const note = 'the engine’s processes are not visible from this runner'
    if (cgroupParent) core.warning(`The cgroup parent could not be verified: ${note}`)
    else core.debug(`cgroup path unknown: ${note}`)
    return ''
  }
  if (cgroupParent && !underCgroupParent(path, cgroupParent)) {
    throw new Error(`the container's init is in ${path}, not under the cgroup parent ${cgroupParent}`)
  }
  core.info(`the container's init is in ${path}`)
  return path
}

/** Puts back the daemon configuration the main step changed, unless asked not to. */
export async function restoreDaemon(docker: Docker, inputs: PostSettings): Promise<void> {
  const change = state.savedDaemonChange()
  if (!change) return

  if (!inputs.restoreDaemon) {
    core.info(`${change.path} keeps its cgroup-parent, as restore-daemon is false`)
    return
  }
  if (inputs.keepContainer) {
    core.warning('Restarting the engine to restore its configuration stops the kept container too')
  }
  await core.group(`Restore ${change.path}`, async () => {
    const file = configFile(docker, change.path)
    await restoreDaemonConfig(file, change).catch(async (error: Error) => {
      throw new Error(`${change.path} could not be restored: ${error.message}\nEngine log:\n${await file.engineLog()}`)
    })
    core.info(change.original === null ? `${change.path} removed, as there was none` : `${change.path} restored byte for byte`)
  })
}
