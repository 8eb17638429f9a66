#!/usr/bin/env node
// Runs the action's main job for real on the local Docker engine (DOCKER_HOST
// or the default socket), then its post step, as a GitHub runner would.
//   npm run local -- [input=value ...] [--keep]
// e.g. npm run local -- image=debian:trixie packages="python3 sudo"
import { spawnSync } from 'node:child_process'

import { createJob } from './runner.mjs'

/** A mistake in the command line: a short message, no stack trace. */
function usage(message) {
  console.error(`${message}\nusage: npm run local -- [input=value ...] [--keep]`)
  process.exit(2)
}

const keep = process.argv.includes('--keep')
const inputs = {}
for (const arg of process.argv.slice(2).filter(arg => arg !== '--keep')) {
  const at = arg.indexOf('=')
  if (at < 1) usage(`'${arg}' is not input=value`)
  inputs[arg.slice(0, at)] = arg.slice(at + 1)
}

const job = await createJob({ inputs, echo: true, jobName: 'local' })
let main
try {
  console.log(`workspace (mounted in the container): ${job.workspace}\n`)
  main = await job.main()
} catch (error) {
  // The runner reads action.yml before the bundle runs: an unknown input name.
  await job.remove()
  usage(error.message)
}
console.log('\n== outputs')
for (const [name, value] of Object.entries(main.outputs)) console.log(`${name}: ${value}`)

const id = main.outputs['container-id']
if (main.exitCode === 0 && id) {
  // Exits 1 for `degraded`, which the action accepted with a warning: shown, not fatal.
  const answer = spawnSync('docker', ['exec', id, 'systemctl', 'is-system-running'], { encoding: 'utf8' })
  console.log('\n== docker exec <container-id> systemctl is-system-running')
  console.log((answer.stdout || answer.stderr).trim())
}

if (keep && id) {
  const name = main.outputs['container-name']
  console.log(`\nkept: docker exec -it ${name} bash; when done: docker stop ${name} && docker rm ${name}`)
  console.log(`and remove the job's folder: rm -r ${job.home}`)
} else {
  console.log('\n== post step')
  await job.post()
  await job.remove()
}
process.exitCode = main.exitCode
