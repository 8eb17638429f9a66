/** What one step of the bundled action left behind, as a runner would see it. */
export interface StepResult {
  exitCode: number
  log: string
  outputs: Record<string, string>
  state: Record<string, string>
}

/** A job: the main step and then the post step, sharing what a runner shares. */
export interface Job {
  main(): Promise<StepResult>
  post(): Promise<StepResult>
  workspace: string
  /** The folder on this machine that holds the job's files, the workspace among them. */
  home: string
  /** Removes the job's files (outputs, state, workspace). */
  remove(): Promise<void>
}

/** Where and how the bundle runs when not by this process's node. */
export interface Place {
  /** The folder on this machine that holds the job's files. */
  hostRoot?: string
  /** The same folder as the bundle sees it. */
  inside?: string
  /** The whole environment there (this process's, cleaned, by default). */
  environment?: Record<string, string>
  /** The command that runs the bundle there with `env`. */
  launch(env: Record<string, string>): { file: string; args: string[]; env?: Record<string, string> }
}

export interface JobOptions {
  place?: Place
  inputs?: Record<string, string>
  dockerHost?: string
  /** What `${{ job.status }}` gives the post step. */
  jobStatus?: string
  env?: Record<string, string>
  /** GITHUB_JOB, which the container's name starts with (default e2e). */
  jobName?: string
  /** Copy the bundle's output to this process's stdout as it comes. */
  echo?: boolean
}

export const REPO: string
export function createJob(options: JobOptions): Promise<Job>
/** Removes the files of every job this process created. */
export function removeAllJobs(): Promise<void>
export function parseFileCommands(text: string): Record<string, string>
