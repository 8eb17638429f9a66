import * as exec from '@actions/exec'

import { Log } from './log.js'

/** What one docker CLI call returned. */
export interface DockerResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface DockerCallOptions {
  /** Show the command and its output in the log (builds, mostly). */
  stream?: boolean
  /** Standard input for the command. */
  input?: Buffer
}

/** A docker CLI call that exited non-zero. */
export class DockerError extends Error {
  constructor(
    readonly args: string[],
    readonly result: DockerResult
  ) {
    const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`
    super(`docker ${args[0]} failed: ${detail}`)
    this.name = 'DockerError'
  }

}

/**
 * Runs the docker CLI. Every argument is one argv element; nothing is ever
 * joined into a shell string.
 */
export class Docker {
  constructor(
    private readonly log: Log,
    private readonly bin = 'docker'
  ) {}

  /** Runs `docker ...args` and returns its result whatever the exit code. */
  async call(args: string[], options: DockerCallOptions = {}): Promise<DockerResult> {
    this.log.debug(`docker ${args.map(arg => (arg.includes('\n') ? '<script>' : arg)).join(' ')}`)
    const result = await exec.getExecOutput(this.bin, args, {
      silent: !options.stream,
      ignoreReturnCode: true,
      input: options.input
    })
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr }
  }

  /** Runs `docker ...args`, returns its trimmed stdout, throws DockerError on failure. */
  async ok(args: string[], options: DockerCallOptions = {}): Promise<string> {
    const result = await this.call(args, options)
    if (result.exitCode !== 0) {
      throw new DockerError(args, result)
    }
    return result.stdout.trim()
  }

  /** Runs a command inside a running container; returns its result whatever the exit code. */
  async exec(containerId: string, command: string[]): Promise<DockerResult> {
    return this.call(['exec', containerId, ...command])
  }
}
