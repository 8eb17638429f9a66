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

const job = await createJob({ inputs, echo: true })
const main = await job.main()
console.log('\n== outputs')
for (const [name, value] of Object.entries(main.outputs)) console.log(`${name}: ${value}`)

const id = main.outputs['container-id']
if (main.exitCode === 0 && id) {
  console.log('\n== docker exec <container-id> systemctl is-system-running')
  console.log(execFileSync('docker', ['exec', id, 'systemctl', 'is-system-running'], { encoding: 'utf8' }).trim())
}

if (keep) {
  console.log(`\nkept: docker exec -it ${id} bash; docker rm -f ${id} when done`)
} else {
  console.log('\n== post step')
  await job.post()
}
process.exitCode = main.exitCode
