import { afterAll, jest } from '@jest/globals'

import { removeAllJobs } from '../../../scripts/runner.mjs'

// Builds and boots take minutes on a cold engine; speed is measured by
// scripts/bench.mjs, never by a timeout here.
jest.setTimeout(15 * 60 * 1000)

// Each test file leaves no job folders behind.
afterAll(removeAllJobs)
