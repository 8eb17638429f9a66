// Runs the bundled action the way the GitHub runner does: every input of
// action.yml as INPUT_*, defaults filled in, the GITHUB_OUTPUT, GITHUB_STATE
// and GITHUB_ENV files, and the main step's state as STATE_* for the post step.
// Shared by the end-to-end tests, scripts/local-run.mjs and scripts/bench.mjs.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const BUNDLE = join(REPO, 'dist', 'index.js')

/**
 * Prepares a job: `main()` and `post()` each run the bundle once and return
 * { exitCode, log, outputs, state }.
 * @param {{ inputs?: Record<string,string>, dockerHost?: string, jobStatus?: string,
 *           env?: Record<string,string>, echo?: boolean }} options
 */
export async function createJob(options) {
  const home = await mkdtemp(join(tmpdir(), 'systemd-container-job-'))
  const workspace = join(home, 'workspace')
  await mkdir(workspace)
  let mainState = {}

  const step = async phase => {
    const files = {
      GITHUB_OUTPUT: join(home, `${phase}-output`),
      GITHUB_STATE: join(home, `${phase}-state`),
      GITHUB_ENV: join(home, `${phase}-env`)
    }
    for (const file of Object.values(files)) await writeFile(file, '')

    const jobStatus = phase === 'post' ? (options.jobStatus ?? 'success') : 'success'
    const env = {
      ...baseEnvironment(),
      ...files,
      ...(await inputVariables(options.inputs ?? {}, jobStatus)),
      ...stateVariables(phase === 'post' ? mainState : {}),
      GITHUB_WORKSPACE: workspace,
      GITHUB_RUN_ID: String(process.pid),
      GITHUB_JOB: 'e2e',
      RUNNER_TEMP: home,
      ...(options.dockerHost ? { DOCKER_HOST: options.dockerHost } : {}),
      ...options.env
    }

    const { exitCode, log } = await runBundle(env, options.echo)
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

/** The caller's environment without anything a runner sets anew for each step. */
function baseEnvironment() {
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === 'NODE_OPTIONS') continue
    if (/^(INPUT_|STATE_|GITHUB_|RUNNER_)/.test(key)) continue
    env[key] = value
  }
  return env
}

async function inputVariables(given, jobStatus) {
  const action = parseYaml(await readFile(join(REPO, 'action.yml'), 'utf8'))
  for (const name of Object.keys(given)) {
    if (!(name in action.inputs)) throw new Error(`input '${name}' is not in action.yml`)
  }

  const env = {}
  for (const [name, spec] of Object.entries(action.inputs)) {
    const fallback = String(spec.default ?? '').replace('${{ job.status }}', jobStatus)
    env[`INPUT_${name.toUpperCase()}`] = given[name] ?? fallback
  }
  return env
}

function stateVariables(state) {
  return Object.fromEntries(Object.entries(state).map(([key, value]) => [`STATE_${key}`, value]))
}

function runBundle(env, echo) {
  return new Promise(resolvePromise => {
    const child = execFile(process.execPath, [BUNDLE], { env, maxBuffer: 256 * 1024 * 1024 }, error => {
      resolvePromise({ exitCode: error ? (error.code ?? 1) : 0, log })
    })
    let log = ''
    // The runner hides ::debug:: lines unless step debugging is on; so does this.
    const collect = chunk => {
      log += chunk
      if (!echo) return
      const text = String(chunk)
      process.stdout.write(process.env.RUNNER_DEBUG === '1' ? text : text.replace(/^::debug::.*\n/gm, ''))
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
  })
}

/** Reads `name<<DELIMITER` blocks (and plain `name=value` lines) as the runner does. */
export function parseFileCommands(text) {
  const values = {}
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
