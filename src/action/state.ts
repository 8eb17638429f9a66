import * as core from '@actions/core'

import { DaemonConfigChange } from '../core/daemon-config.js'
import { State } from './constants.js'
import { Inputs } from './inputs.js'

/** True when this process runs as the post step. */
export const isPost = (): boolean => core.getState(State.IsPost) === 'true'

/** Marks that the main step has run, so the next start of the bundle is the post step. */
export function markPost(): void {
  core.saveState(State.IsPost, 'true')
}

/** Records the container as soon as it exists, so the post step can clean it up. */
export function saveContainer(id: string, name: string): void {
  core.saveState(State.ContainerId, id)
  core.saveState(State.ContainerName, name)
}

/** The container the main step started, if it started one. */
export function savedContainer(): { id: string; name: string } | undefined {
  const id = core.getState(State.ContainerId)
  return id ? { id, name: core.getState(State.ContainerName) } : undefined
}

/**
 * Records a daemon configuration change before the file is written, so the
 * post step can undo it; undefined records that it was undone already.
 */
export function saveDaemonChange(change: DaemonConfigChange | undefined): void {
  core.saveState(State.DaemonConfig, change ? JSON.stringify(change) : '')
}

/** The daemon configuration change the main step made, if it made one. */
export function savedDaemonChange(): DaemonConfigChange | undefined {
  const saved = core.getState(State.DaemonConfig)
  return saved ? (JSON.parse(saved) as DaemonConfigChange) : undefined
}

/** The inputs the post step acts on, as the main step read and checked them. */
export type PostSettings = Pick<Inputs, 'showJournal' | 'keepContainer' | 'stopTimeout' | 'restoreDaemon'>

/** Keeps the checked inputs for the post step, which then never reads them again. */
export function savePostSettings(inputs: Inputs): void {
  const { showJournal, keepContainer, stopTimeout, restoreDaemon } = inputs
  core.saveState(State.PostSettings, JSON.stringify({ showJournal, keepContainer, stopTimeout, restoreDaemon }))
}

/** The post step's settings; undefined when the main step stopped at its inputs. */
export function savedPostSettings(): PostSettings | undefined {
  const saved = core.getState(State.PostSettings)
  return saved ? (JSON.parse(saved) as PostSettings) : undefined
}
