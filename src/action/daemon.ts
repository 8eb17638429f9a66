import * as core from '@actions/core'

import { initCgroup, inspectState, underCgroupParent } from '../core/container.js'
import {
  applyCgroupParent,
  cgroupParentProblem,
  DaemonConfigFile,
  HostCommands,
  putBackDaemonConfig
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
 * The running containers a restart would stop, all of them unless the engine
 * has live-restore: the job's service containers, or another job's on a shared
 * machine. `except` leaves out the action's own container.
 */
async function containersARestartStops(docker: Docker, liveRestore: boolean, except = ''): Promise<string[]> {
  if (liveRestore) return []
  const rows = (await docker.ok(['ps', '--no-trunc', '--format', '{{.ID}} {{.Names}}'])).split('\n').filter(Boolean)
  return rows.filter(row => !except || !row.startsWith(`${except} `)).map(row => row.split(' ')[1])
}

async function refuseToStopContainers(docker: Docker, probe: HostProbe): Promise<void> {
  const running = await containersARestartStops(docker, probe.engine.liveRestore)
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
  await core.group(`Restore ${change.path}`, async () => {
    const file = configFile(docker, change.path)
    const fail = async (error: Error) => {
      throw new Error(`${change.path} could not be restored: ${error.message}\nEngine log:\n${await file.engineLog()}`)
    }
    // The file first: it goes back even when the engine does not answer.
    await putBackDaemonConfig(file, change).catch(fail)
    core.info(change.original === null ? `${change.path} removed, as there was none` : `${change.path} restored byte for byte`)

    const others = await runningOthers(docker)
    if (others.length > 0) {
      // Containers started since the main step may be another job's: they are not ours to stop.
      core.warning(
        `The engine keeps its cgroup-parent until its next restart: restarting it now would stop ` +
          `the running container(s) ${others.join(', ')}`
      )
      return
    }
    await file.restartEngine().catch(fail)
    core.info('the engine restarted with its old configuration')
  })
}

/**
 * The other containers a restart would stop now. An engine that does not
 * answer runs none that it could stop: it is restarted all the same.
 */
async function runningOthers(docker: Docker): Promise<string[]> {
  try {
    const liveRestore = (await docker.ok(['info', '--format', '{{json .LiveRestoreEnabled}}'])) === 'true'
    return await containersARestartStops(docker, liveRestore, state.savedContainer()?.id)
  } catch (error) {
    core.info(`The engine does not answer (${(error as Error).message.split('\n')[0]}): restarting it`)
    return []
  }
}
