#!/usr/bin/env node
// Benchmark: how long the action's main step takes to get a booted systemd on
// a real engine, in the three situations a runner meets:
//   cold        no systemd image on the engine, empty cache: build (and save)
//   warm cache  image gone from the engine, the cache holds it: load
//   present     image already on the engine: neither
// Each case runs the real bundle (dist/) through scripts/runner.mjs, main step
// then post step; cold and warm use the local cache service with Azurite
// (scripts/cache-service.mjs). The figure is the main step's wall time, from
// process start to exit (systemd booted); the action's own `boot-time` output
// (container start until systemd is up) is shown beside it. Not a test: it
// fails only when a run fails, never on a slow figure.
//
//   npm run bench -- [--engine v1|v2] [--image debian:bookworm] [--runs 3]
//
// Engine: --engine picks a lab engine (scripts/lab), else DOCKER_HOST, else
// the v2 lab engine. Every round tags a fresh copy of the image (a unique
// label, so the engine's layer cache from other builds cannot make a cold
// build warm) as bench/<image>:base, and everything built from it is removed
// at the end.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseArgs, promisify } from 'node:util'

import { startCacheService } from './cache-service.mjs'
import { createJob } from './runner.mjs'

const ENGINES = { v1: 'unix:///run/lab/v1/docker.sock', v2: 'unix:///run/lab/v2/docker.sock' }
const CASES = ['cold', 'warm cache', 'present']

const { values: flags } = parseArgs({
  options: {
    engine: { type: 'string' },
    image: { type: 'string', default: 'debian:bookworm' },
    runs: { type: 'string', default: '3' }
  }
})
if (flags.engine && !(flags.engine in ENGINES)) throw new Error(`--engine is v1 or v2, not ${flags.engine}`)
const host = flags.engine ? ENGINES[flags.engine] : process.env.DOCKER_HOST || ENGINES.v2
const runs = Number(flags.runs)
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs is a whole number, not ${flags.runs}`)
const slug = flags.image.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
const base = `bench/${slug}:base`
// Where the action tags what it builds from `base` (src/core/image.ts, imageTag).
const builtRepository = `systemd-container/${base.replace(/[^a-z0-9]+/g, '-')}`

/** Runs docker against the bench's engine; `input` goes to its stdin. */
function docker(args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile('docker', ['--host', host, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || error.message}`)) : resolve(stdout.trim())
    )
    child.stdin.end(input ?? '')
  })
}

/** A copy of the image that no other build has used as a parent. */
async function freshBase() {
  await docker(['image', 'rm', base]).catch(() => {})
  const label = `io.github.systemd-container.bench=${randomBytes(8).toString('hex')}`
  await docker(['build', '--quiet', '--tag', base, '--label', label, '-'], `FROM ${flags.image}\n`)
}

/** One job: main step timed, post step after; throws when either fails or the case is not what it claims. */
async function run(name, env) {
  const job = await createJob({ dockerHost: host, inputs: { image: base }, env, jobName: 'bench' })
  const start = performance.now()
  const main = await job.main()
  const seconds = (performance.now() - start) / 1000
  const post = await job.post()
  await job.remove()

  const problem =
    main.exitCode !== 0 ? `main step exited ${main.exitCode}`
    : post.exitCode !== 0 ? `post step exited ${post.exitCode}`
    : expectationFailed(name, main)
  if (problem) {
    const tail = (main.exitCode === 0 ? post : main).log.split('\n').slice(-30).join('\n')
    throw new Error(`${name}: ${problem}\n--- log tail\n${tail}`)
  }
  return { seconds, bootTime: Number(main.outputs['boot-time']), image: main.outputs.image }
}

/** Why a finished run did not measure what its case says, if it did not. */
function expectationFailed(name, { outputs, log }) {
  if (name === 'cold') {
    if (!log.includes(`building ${outputs.image}`)) return 'no build on a cold engine'
    if (log.includes('Using cache')) return 'the build reused cached layers: not cold'
    if (!/saved .* to the cache/.test(log)) return 'the image was not saved to the cache'
  }
  if (name === 'warm cache' && outputs['cache-hit'] !== 'true') return 'no cache hit'
  if (name === 'present' && !log.includes('is already on the engine: no build')) return 'the image was not reused'
  return undefined
}

async function removeBenchImages() {
  const built = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}', builtRepository]).catch(() => '')
  for (const reference of [...built.split('\n').filter(Boolean), base]) {
    await docker(['image', 'rm', reference]).catch(() => {})
  }
}

const median = list => {
  const sorted = [...list].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

function report(times) {
  const cold = median(times.cold.map(t => t.seconds))
  const rows = [['case', 'runs', 'main median', 'min–max', 'boot-time median', 'vs cold']]
  for (const name of CASES) {
    const list = times[name]
    if (list.length === 0) continue
    const seconds = list.map(t => t.seconds)
    rows.push([
      name,
      String(list.length),
      `${median(seconds).toFixed(1)} s`,
      `${Math.min(...seconds).toFixed(1)}–${Math.max(...seconds).toFixed(1)} s`,
      `${median(list.map(t => t.bootTime)).toFixed(1)} s`,
      `${(cold / median(seconds)).toFixed(1)}×`
    ])
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map(row => row[column].length)))
  console.log()
  for (const row of rows) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('   '))
  if (times['warm cache'].length > 0) {
    const speedUp = cold / median(times['warm cache'].map(t => t.seconds))
    console.log(`\nwarm cache ≥ 3× faster than cold: ${speedUp >= 3 ? 'yes' : 'no'} (${speedUp.toFixed(1)}×)`)
  }
}

const server = await docker(['version', '--format', '{{.Server.Version}}'])
const cgroup = await docker(['info', '--format', '{{.CgroupVersion}}'])
console.log(`engine ${host} (Docker ${server}, cgroup v${cgroup}), image ${flags.image} as ${base}, ${runs} run(s) a case`)
await docker(['image', 'inspect', flags.image]).catch(() => docker(['pull', '--quiet', flags.image]))

const times = Object.fromEntries(CASES.map(name => [name, []]))
try {
  for (let round = 1; round <= runs; round++) {
    await freshBase()
    const service = await startCacheService()
    try {
      for (const name of CASES) {
        const result = await run(name, name === 'present' ? {} : service.env)
        times[name].push(result)
        console.log(`round ${round}/${runs}  ${name.padEnd(10)}  ${result.seconds.toFixed(1).padStart(6)} s   boot-time ${result.bootTime.toFixed(1)} s`)
        if (name === 'cold') await docker(['image', 'rm', result.image])
      }
    } finally {
      await service.stop()
      await removeBenchImages()
    }
  }
  report(times)
} catch (error) {
  if (times.cold.length > 0) report(times)
  console.error(`\nbenchmark run failed: ${error.message}`)
  process.exitCode = 1
} finally {
  await removeBenchImages()
}
