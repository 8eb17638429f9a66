#!/usr/bin/env node
// Runs the action's main job for real on the local Docker engine (DOCKER_HOST
// or the default socket), then its post step, as a GitHub runner would.
//   npm run local -- [input=value ...] [--keep]
// e.g. npm run local -- image=debian:trixie packages="python3 sudo"
import { execFileSync } from 'node:child_process'

import { createJob } from './runner.mjs'

const keep = process.argv.includes('--keep')
const inputs = Object.fromEntries(
  process.argv
    .slice(2)
    .filter(arg => arg !== '--keep')
    .map(arg => {
      const at = arg.indexOf('=')
      if (at < 1) throw new Error(`'${arg}' is not input=value`)
      return [arg.slice(0, at), arg.slice(at + 1)]
    })
)

let job
try {
  job = await createJob({ inputs, echo: true, jobName: 'local' })
} catch (error) {
  console.error(error.message)
  process.exit(2)
}
console.log(`workspace (mounted in the container): ${job.workspace}\n`)
const main = await job.main()
console.log('\n== outputs')
for (const [name, value] of Object.entries(main.outputs)) console.log(`${name}: ${value}`)

const id = main.outputs['container-id']
if (main.exitCode === 0 && id) {
  console.log('\n== docker exec <container-id> systemctl is-system-running')
  console.log(execFileSync('docker', ['exec', id, 'systemctl', 'is-system-running'], { encoding: 'utf8' }).trim())
}

if (keep && id) {
  const name = main.outputs['container-name']
  console.log(`\nkept: docker exec -it ${name} bash; when done: docker stop ${name} && docker rm ${name}`)
  console.log(`and remove its workspace folder: rm -r ${job.workspace}`)
} else {
  console.log('\n== post step')
  await job.post()
  await job.remove()
}
process.exitCode = main.exitCode
