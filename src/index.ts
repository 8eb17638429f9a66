import * as core from '@actions/core'

import { runMain } from './action/main.js'
import { runPost } from './action/post.js'
import { isPost } from './action/state.js'

/** One bundle serves both steps; the state the main step saved tells them apart. */
async function run(): Promise<void> {
  try {
    await (isPost() ? runPost() : runMain())
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error))
  }
}

await run()
