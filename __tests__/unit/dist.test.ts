import { describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

// The action runs from the committed dist/; a source change without a rebuild
// would ship old code. This rebuilds the bundle and compares it byte for byte.
describe('dist/', () => {
  it('is the bundle of the current sources (run npm run build and commit dist/)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'systemd-container-dist-'))
    try {
      await execFileAsync('npx', ['ncc', 'build', 'src/index.ts', '-o', out, '--license', 'licenses.txt', '--target', 'es2022'], {
        maxBuffer: 64 * 1024 * 1024
      })
      // Every file ncc writes, and no other in dist/.
      expect((await readdir('dist')).sort()).toEqual((await readdir(out)).sort())
      for (const file of await readdir(out)) {
        const fresh = await readFile(join(out, file), 'utf8')
        const committed = await readFile(join('dist', file), 'utf8')
        expect({ file, same: committed === fresh }).toEqual({ file, same: true })
      }
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  }, 180_000)
})
