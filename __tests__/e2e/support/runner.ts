import { execFile } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { parse as parseYaml } from 'yaml'

const execFileAsync = promisify(execFile)

export const REPO = resolve(import.meta.dirname, '..', '..', '..')
const BUNDLE = join(REPO, 'dist', 'index.js')

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
  dockerHost: string
  /** What `${{ job.status }}` gives the post step. */
  jobStatus?: string
  env?: Record<string, string>
}

/**
 * Runs dist/index.js the way the GitHub runner does: every input of
 * action.yml as INPUT_*, defaults filled in, the GITHUB_OUTPUT, GITHUB_STATE
 * and GITHUB_ENV files, and STATE_* from the main step for the post step.
 */
export async function createJob(options: JobOptions): Promise<Job> {
  const home = await mkdtemp(join(tmpdir(), 'systemd-container-job-'))
  const workspace = join(home, 'workspace')
  await execFileAsync('mkdir', ['-p', workspace])
  let mainState: Record<string, string> = {}

  const step = async (phase: 'main' | 'post'): Promise<StepResult> => {
    const files = {
      GITHUB_OUTPUT: join(home, `${phase}-output`),
      GITHUB_STATE: join(home, `${phase}-state`),
      GITHUB_ENV: join(home, `${phase}-env`)
    }
    for (const file of Object.values(files)) await writeFile(file, '')

    const inputs = await inputsWithDefaults(options.inputs ?? {}, phase === 'post' ? options.jobStatus : 'success')
    const env: Record<string, string> = {
      ...baseEnvironment(),
      ...files,
      ...inputs,
      ...stateVariables(phase === 'post' ? mainState : {}),
      GITHUB_WORKSPACE: workspace,
      GITHUB_RUN_ID: String(process.pid),
      GITHUB_JOB: 'e2e',
      RUNNER_TEMP: home,
      DOCKER_HOST: options.dockerHost,
      ...options.env
    }

    const { exitCode, log } = await runNode(env)
    const result = {
      exitCode,
      log,
      outputs: parseFileCommands(await readFile(files.GITHUB_OUTPUT, 'utf8')),
      state: parseFileCommands(await readFile(files.GITHUB_STATE, 'utf8'))
    }
    if (phase === 'main') mainState = result.state
    return result
  }

  return { main: () => step('main'), post: () => step('post'), workspace }
}

/** The environment of the test process without anything a runner would set anew. */
function baseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(INPUT_|STATE_|GITHUB_|RUNNER_)/.test(key)) continue
    if (key === 'NODE_OPTIONS') continue
    env[key] = value
  }
  return env
}

async function inputsWithDefaults(
  given: Record<string, string>,
  jobStatus = 'success'
): Promise<Record<string, string>> {
  const action = parseYaml(await readFile(join(REPO, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { default?: string }>
  }
  const env: Record<string, string> = {}
  for (const [name, spec] of Object.entries(action.inputs)) {
    const fallback = String(spec.default ?? '').replace('${{ job.status }}', jobStatus)
    env[`INPUT_${name.toUpperCase()}`] = given[name] ?? fallback
  }
  for (const name of Object.keys(given)) {
    if (!(name in action.inputs)) throw new Error(`test uses input '${name}', which action.yml lacks`)
  }
  return env
}

function stateVariables(state: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(state).map(([key, value]) => [`STATE_${key}`, value]))
}

async function runNode(env: Record<string, string>): Promise<{ exitCode: number; log: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BUNDLE], {
      env,
      maxBuffer: 64 * 1024 * 1024
    })
    return { exitCode: 0, log: stdout + stderr }
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string }
    return { exitCode: failed.code ?? 1, log: (failed.stdout ?? '') + (failed.stderr ?? '') }
  }
}

/** Reads `name<<DELIMITER` blocks (and plain `name=value` lines) as the runner does. */
export function parseFileCommands(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  const lines = text.split('\n')

  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1)
      values[heredoc[1]] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=')
      values[lines[i].slice(0, at)] = lines[i].slice(at + 1)
    }
  }
  return values
}
