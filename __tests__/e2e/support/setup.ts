import { jest } from '@jest/globals'

// Builds and boots take minutes on a cold engine; speed is measured by
// scripts/bench.mjs, never by a timeout here.
jest.setTimeout(15 * 60 * 1000)
