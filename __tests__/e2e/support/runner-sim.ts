import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

import { Place, REPO } from '../../../scripts/runner.mjs'
import { ENGINES } from './engine.js'

const execFileAsync = promisify(execFile)
const RUNNER_SH = join(REPO, 'scripts', 'lab', 'runner.sh')
const SHARE = '/var/lib/systemd-container-lab/runner-share'
const RUNNER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The suites of the simulated runner and the Docker engine each brings. */
export const RUNNER_SUITES = { bookworm: '20.10', trixie: '26.1', sid: '28.5' } as const
export type RunnerSuite = keyof typeof RUNNER_SUITES

export interface CommandResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** A simulated GitHub runner: systemd, docker.service, and a `runner` user with sudo. */
export interface SimulatedRunner {
  suite: RunnerSuite
  /** Where the bundle runs: as `runner`, inside, with the runner's environment. */
  place: Place
  /** Runs a command inside, as `runner` or as root. */
  run(command: string[], options?: { root?: boolean }): Promise<CommandResult>
  /** Runs a command inside and returns its trimmed stdout; throws when it fails. */
  ok(command: string[], options?: { root?: boolean }): Promise<string>
  /** Removes the runner and its engine's volume. */
  stop(): Promise<void>
}

/**
 * Builds (once, cached) and starts the simulated runner of a suite; throws
 * loudly when the lab cannot give one.
 */
export async function startRunner(suite: RunnerSuite): Promise<SimulatedRunner> {
  await execFileAsync(RUNNER_SH, ['start', suite], { maxBuffer: 64 * 1024 * 1024 }).catch(error => {
    throw new Error(`the simulated ${suite} runner did not start:\n${error.stdout}${error.stderr}`)
  })

  const run = async (command: string[], options: { root?: boolean } = {}): Promise<CommandResult> => {
    const args = ['exec', suite, ...(options.root ? ['--root'] : []), ...command]
    try {
      const { stdout, stderr } = await execFileAsync(RUNNER_SH, args, { maxBuffer: 64 * 1024 * 1024 })
      return { exitCode: 0, stdout, stderr }
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string }
      return { exitCode: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
    }
  }
  const ok = async (command: string[], options: { root?: boolean } = {}) => {
    const result = await run(command, options)
    if (result.exitCode !== 0) throw new Error(`${command.join(' ')} failed in the ${suite} runner: ${result.stderr}`)
    return result.stdout.trim()
  }

  const stop = async () => {
    await execFileAsync(RUNNER_SH, ['stop', suite])
  }
  return { suite, place: runnerPlace(suite), run, ok, stop }
}

function runnerPlace(suite: RunnerSuite): Place {
  return {
    hostRoot: join(SHARE, suite),
    inside: '/lab-share',
    environment: { HOME: '/home/runner', USER: 'runner', PATH: RUNNER_PATH },
    launch: env => ({
      file: 'docker',
      args: [
        '--host',
        ENGINES.v2,
        'exec',
        '--user',
        'runner',
        '--workdir',
        '/home/runner',
        ...Object.entries(env).flatMap(([key, value]) => ['--env', `${key}=${value}`]),
        `lab-runner-${suite}`,
        '/usr/local/bin/node',
        '/action/dist/index.js'
      ]
    })
  }
}
