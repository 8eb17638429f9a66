// Runs the bundled action the way the GitHub runner does: every input of
// action.yml as INPUT_*, defaults filled in, the GITHUB_OUTPUT, GITHUB_STATE
// and GITHUB_ENV files, and the main step's state as STATE_* for the post step.
// Shared by the end-to-end tests, scripts/local-run.mjs and scripts/bench.mjs.
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const BUNDLE = join(REPO, 'dist', 'index.js')

/**
 * Prepares a job: `main()` and `post()` each run the bundle once and return
 * { exitCode, log, outputs, state }. `place` runs it elsewhere (inside a
 * simulated runner): where the job's files live on this machine and there,
 * the environment there, and the command that starts the bundle there.
 */
export async function createJob(options) {
  const place = options.place ?? LOCAL
  const home = await mkdtemp(join(place.hostRoot ?? tmpdir(), 'systemd-container-job-'))
  homes.add(home)
  await chmod(home, 0o777)
  const inside = path => (place.inside ? join(place.inside, basename(home), path) : join(home, path))
  await mkdir(join(home, 'workspace'))
  await chmod(join(home, 'workspace'), 0o777)
  let mainState = {}

  const step = async phase => {
    const names = { GITHUB_OUTPUT: 'output', GITHUB_STATE: 'state', GITHUB_ENV: 'env' }
    for (const name of Object.values(names)) {
      await writeFile(join(home, `${phase}-${name}`), '')
      await chmod(join(home, `${phase}-${name}`), 0o666)
    }

    const jobStatus = phase === 'post' ? (options.jobStatus ?? 'success') : 'success'
    const env = {
      ...(place.environment ?? baseEnvironment()),
      ...Object.fromEntries(Object.entries(names).map(([key, name]) => [key, inside(`${phase}-${name}`)])),
      ...(await inputVariables(options.inputs ?? {}, jobStatus)),
      ...stateVariables(phase === 'post' ? mainState : {}),
      GITHUB_WORKSPACE: inside('workspace'),
      GITHUB_RUN_ID: String(process.pid),
      GITHUB_JOB: options.jobName ?? 'e2e',
      RUNNER_TEMP: inside(''),
      ...(options.dockerHost ? { DOCKER_HOST: options.dockerHost } : {}),
      ...options.env
    }

    const { exitCode, log } = await runBundle(place.launch(env), options.echo)
    const read = name => readFile(join(home, `${phase}-${name}`), 'utf8')
    const result = {
      exitCode,
      log,
      outputs: parseFileCommands(await read('output')),
      state: parseFileCommands(await read('state'))
    }
    if (phase === 'main') mainState = result.state
    return result
  }

  return {
    main: () => step('main'),
    post: () => step('post'),
    workspace: inside('workspace'),
    home,
    remove: () => rm(home, { recursive: true, force: true })
  }
}

const homes = new Set()

/** Removes the files of every job this process created. */
export async function removeAllJobs() {
  await Promise.all([...homes].map(home => rm(home, { recursive: true, force: true })))
  homes.clear()
}

/** The bundle run by this process's node, on this machine. */
const LOCAL = { launch: env => ({ file: process.execPath, args: [BUNDLE], env }) }

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
    if (!(name in action.inputs)) {
      throw new Error(`'${name}' is not an input of the action; its inputs: ${Object.keys(action.inputs).join(', ')}`)
    }
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

function runBundle({ file, args, env }, echo) {
  return new Promise(resolvePromise => {
    const child = execFile(file, args, { env, maxBuffer: 256 * 1024 * 1024 }, error => {
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
      const found = lines.indexOf(heredoc[2], i + 1)
      const end = found === -1 ? lines.length : found
      values[heredoc[1]] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=')
      values[lines[i].slice(0, at)] = lines[i].slice(at + 1)
    }
  }
  return values
}
