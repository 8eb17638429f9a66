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
}

export interface JobOptions {
  inputs?: Record<string, string>
  dockerHost?: string
  /** What `${{ job.status }}` gives the post step. */
  jobStatus?: string
  env?: Record<string, string>
  /** Copy the bundle's output to this process's stdout as it comes. */
  echo?: boolean
}

export const REPO: string
export function createJob(options: JobOptions): Promise<Job>
export function parseFileCommands(text: string): Record<string, string>
