import * as core from '@actions/core'

import { failedUnits } from '../core/boot.js'
import { inspectState, removeContainer, stopContainer } from '../core/container.js'
import { journal } from '../core/diagnose.js'
import { Docker } from '../core/docker.js'
import { restoreDaemon } from './daemon.js'
import { Input } from './constants.js'
import * as state from './state.js'
import { PostSettings } from './state.js'

/** The post step: show the journal when something failed, stop systemd, remove the container. */
export async function runPost(): Promise<void> {
  const settings = state.savedPostSettings()
  if (!settings) {
    core.info('The main step stopped at its inputs and changed nothing: nothing to clean up')
    return
  }

  const docker = new Docker(core)
  try {
    await cleanUpContainer(docker, settings)
  } finally {
    await restoreDaemon(docker, settings)
  }
}

async function cleanUpContainer(docker: Docker, inputs: PostSettings): Promise<void> {
  const container = state.savedContainer()
  if (!container) {
    core.info('No container was left by the main step: nothing to clean up')
    return
  }

  const running = (await inspectState(docker, container.id))?.running
  if (running === undefined) {
    core.info(`${container.name} is already gone`)
    return
  }

  if (running && (await journalWanted(docker, container.id, inputs))) {
    await core.group(`Journal of ${container.name}`, async () => {
      core.info(await journal(docker, container.id))
    })
  }

  if (inputs.keepContainer) {
    const how = running ? 'running' : 'as it is (it has exited)'
    core.info(`${container.name} is kept ${how}, as keep-container asks`)
    return
  }

  await core.group(`Stop ${container.name}`, () => stopAndRemove(docker, container.id, inputs))
}

async function journalWanted(docker: Docker, containerId: string, inputs: PostSettings): Promise<boolean> {
  if (inputs.showJournal !== 'on-failure') return inputs.showJournal === 'always'
  // Inputs are evaluated again for the post step: job-status is the job's status now.
  if (['failure', 'cancelled'].includes(core.getInput(Input.JobStatus))) return true

  const failed = await failedUnits(docker, containerId)
  if (failed.length) core.info(`Failed units in the container: ${failed.join(', ')}`)
  return failed.length > 0
}

async function stopAndRemove(docker: Docker, containerId: string, inputs: PostSettings): Promise<void> {
  try {
    const stop = await stopContainer(docker, containerId, inputs.stopTimeout)
    if (stop.clean) {
      core.info(`systemd shut down cleanly in ${stop.seconds.toFixed(1)} s (exit code ${stop.exitCode})`)
    } else {
      core.warning(
        `systemd did not shut down within ${inputs.stopTimeout} s; the engine killed it (exit code ${stop.exitCode})`
      )
    }
  } finally {
    // A stop the engine refused still ends in a removal: the job leaves no container.
    await removeContainer(docker, containerId)
    core.info('container removed')
  }
}
