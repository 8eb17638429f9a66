import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'

import { BootError, BootResult, BootTimeout, waitForBoot } from '../core/boot.js'
import { ContainerSpec, removeContainer, startContainer } from '../core/container.js'
import { collectBootReport } from '../core/diagnose.js'
import { Docker } from '../core/docker.js'
import { describeHost, HostProbe, probeHost } from '../core/host-probe.js'
import { chooseStrategy, Strategy } from '../core/strategy.js'
import { Input, Output } from './constants.js'
import { setCgroupParent, verifyCgroup } from './daemon.js'
import { PreparedImage, prepareImage } from './image-cache.js'
import { Inputs, readInputs } from './inputs.js'
import * as state from './state.js'

/** The main step: probe, build, start, wait for systemd, publish outputs. */
export async function runMain(): Promise<void> {
  // First of all: even a main step that fails on its inputs has a post step.
  state.markPost()
  const inputs = readInputs()
  state.savePostSettings(inputs)
  const docker = new Docker(core)

  const probe = await core.group('Probe the host', async () => {
    const found = await probeHost(docker)
    core.info(describeHost(found))
    return found
  })

  // Chosen before the engine is touched: a strategy this host cannot give
  // must not cost two engine restarts first.
  const strategy = chooseStrategy(probe, inputs.strategy)
  core.info(`Strategy ${strategy.name}: ${strategy.reason}`)

  if (inputs.cgroupParent) {
    await core.group(`Set the engine's cgroup parent to ${inputs.cgroupParent}`, () =>
      setCgroupParent(docker, probe, inputs)
    )
  }

  const image = await core.group('Prepare the systemd image', () =>
    prepareImage(docker, inputs.image, inputs.cache, probe.engine.architecture)
  )

  const spec = containerSpec(inputs, image.reference, strategy)
  const containerId = await core.group(`Start ${spec.name}`, async () => {
    const id = await startContainer(docker, spec, created => state.saveContainer(created, spec.name))
    core.info(`container ${id.slice(0, 12)} started from ${image.reference}`)
    return id
  })

  const boot = await core.group('Wait for systemd', async () => {
    const booted = await bootOrCleanUp(docker, containerId, inputs)
    const cgroupPath = await verifyCgroup(docker, containerId, probe, inputs.cgroupParent)
    return { ...booted, cgroupPath }
  })

  publish({ containerId, name: spec.name, image, probe, strategy, boot })
}

function containerSpec(inputs: Inputs, image: string, strategy: Strategy): ContainerSpec {
  const runId = process.env.GITHUB_RUN_ID ?? 'local'
  const job = (process.env.GITHUB_JOB ?? 'job').replace(/[^a-zA-Z0-9_.-]/g, '-')
  const name = inputs.name || `systemd-${job}-${runId}-${randomBytes(3).toString('hex')}`
  const workspace = process.env.GITHUB_WORKSPACE

  return {
    name,
    image,
    strategy,
    workspace: inputs.mountWorkspace && workspace ? workspace : undefined,
    volumes: inputs.volumes,
    env: inputs.env,
    ports: inputs.ports,
    options: inputs.options,
    labels: {
      'io.github.systemd-container.run-id': runId,
      'io.github.systemd-container.job': job
    }
  }
}

/**
 * Waits for systemd. A failed boot prints what the container can tell, and the
 * container is removed at once unless the user asked to keep it.
 */
async function bootOrCleanUp(docker: Docker, containerId: string, inputs: Inputs): Promise<BootResult> {
  try {
    const boot = await waitForBoot(docker, containerId, core, { timeoutSeconds: inputs.bootTimeout })
    checkDegraded(boot, inputs)
    core.info(`systemd ${boot.systemdVersion} is ${boot.state} after ${boot.seconds.toFixed(1)} s`)
    return boot
  } catch (error) {
    const exitCode = error instanceof BootError ? error.exitCode : undefined
    const report = await collectBootReport(docker, containerId, exitCode)
    core.info(`Boot log:\n${report.bootLog}`)
    if (report.failedUnits) core.info(`Failed units:\n${report.failedUnits}`)
    if (report.journal) core.info(`Journal (last lines):\n${report.journal}`)

    if (!inputs.keepContainer) {
      // A failed removal must not hide why the boot failed; the post step tries again.
      await removeContainer(docker, containerId).then(
        () => state.saveContainer('', ''),
        (removal: Error) => core.warning(`The container could not be removed yet: ${removal.message}`)
      )
    }
    const diagnosis = report.diagnosis ? `\nLikely cause: ${report.diagnosis}` : ''
    const hint =
      error instanceof BootTimeout
        ? `; input '${Input.BootTimeout}' is ${inputs.bootTimeout} s, raise it for an image that boots slowly`
        : ''
    throw new Error(`${(error as Error).message}${hint}${diagnosis}`)
  }
}

function checkDegraded(boot: BootResult, inputs: Inputs): void {
  if (boot.state !== 'degraded') return

  const units = boot.failedUnits.join(', ') || 'none listed'
  if (inputs.failOnDegraded) {
    throw new BootError(`systemd is degraded; failed units: ${units}`)
  }
  core.warning(`systemd is degraded; failed units: ${units}`)
}

interface Published {
  containerId: string
  name: string
  image: PreparedImage
  probe: HostProbe
  strategy: Strategy
  boot: BootResult & { cgroupPath: string }
}

function publish(result: Published): void {
  core.setOutput(Output.ContainerId, result.containerId)
  core.setOutput(Output.ContainerName, result.name)
  core.setOutput(Output.Image, result.image.reference)
  core.setOutput(Output.ImageId, result.image.id)
  core.setOutput(Output.CacheHit, String(result.image.cacheHit))
  core.setOutput(Output.CgroupVersion, String(result.probe.engine.cgroupVersion))
  core.setOutput(Output.Strategy, result.strategy.name)
  core.setOutput(Output.SystemdVersion, result.boot.systemdVersion)
  core.setOutput(Output.BootTime, result.boot.seconds.toFixed(2))
  core.setOutput(Output.CgroupPath, result.boot.cgroupPath)
}
