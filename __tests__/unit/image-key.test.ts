import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

import { cacheKey } from '../../src/action/image-cache.js'
import { generateDockerfile } from '../../src/core/distro.js'
import {
  buildFailure,
  commandBootsSystemd,
  contextDigest,
  IMAGE_SCHEMA,
  ImageError,
  ImagePlan,
  imageTag,
  ingredientsDigest
} from '../../src/core/image.js'

/** Ingredients as planImage lists them for a base given systemd. */
const BASE_INGREDIENTS: Record<string, string> = {
  schema: IMAGE_SCHEMA,
  architecture: 'x86_64',
  buildArgs: '',
  dockerfile: generateDockerfile('debian:bookworm', 'apt', ['vim']),
  base: 'sha256:' + '1'.repeat(64),
  packages: 'vim'
}

/** Ingredients as planImage lists them for a user Dockerfile. */
const CUSTOM_INGREDIENTS: Record<string, string> = {
  schema: IMAGE_SCHEMA,
  architecture: 'aarch64',
  buildArgs: 'VERSION=1.2\nMIRROR=https://mirror.example.com',
  dockerfile: 'FROM fedora:41\nRUN dnf -y install systemd\nCMD ["/usr/lib/systemd/systemd"]\n',
  context: 'c'.repeat(64),
  bases: 'fedora:41@sha256:' + '3'.repeat(64)
}

/** One changed value for each ingredient. */
const CHANGES: Record<string, string> = {
  schema: 'v2',
  architecture: 'aarch64',
  buildArgs: 'VERSION=1.3',
  dockerfile: generateDockerfile('debian:bookworm', 'apt', ['vim', 'curl']),
  base: 'sha256:' + '2'.repeat(64),
  packages: 'vim curl',
  context: 'd'.repeat(64),
  bases: 'fedora:41@sha256:' + '4'.repeat(64)
}

function plan(ingredients: Record<string, string>): ImagePlan {
  return {
    reference: imageTag('debian:bookworm', ingredients),
    description: 'Debian GNU/Linux 12 (bookworm), systemd installed with apt',
    build: { dockerfile: ingredients.dockerfile, buildArgs: [] },
    ingredients
  }
}

function shuffled(ingredients: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(ingredients).reverse())
}

describe('commandBootsSystemd', () => {
  it.each([[['/sbin/init']], [['/usr/sbin/init']], [['/lib/systemd/systemd', '--log-level=info']], [['systemd']]])(
    'takes %j as an image that boots systemd',
    command => expect(commandBootsSystemd(command)).toBe(true)
  )

  it.each([[['/init']], [['/bin/bash']], [['/usr/bin/tini', '--', '/sbin/init']], [[]]])(
    'does not take %j for one',
    command => expect(commandBootsSystemd(command)).toBe(false)
  )
})

describe('buildFailure', () => {
  it('keeps the package manager\'s error and the failed step of the legacy builder, not its notice', () => {
    const result = {
      stdout:
        'Sending build context to Docker daemon  2.048kB\nStep 1/2 : FROM debian:bookworm\n ---> 16088ea83238\n' +
        'Step 2/2 : RUN apt-get install -y nope\n ---> Running in 4f466d377a41\n' +
        '\x1b[91mE: Unable to locate package nope\n\x1b[0mRemoving intermediate container 4f466d377a41\n',
      stderr:
        'DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n' +
        '            Install the buildx component to build images with BuildKit:\n' +
        '            https://docs.docker.com/go/buildx/\n\n' +
        "The command '/bin/sh -c apt-get install -y nope' returned a non-zero code: 100\n"
    }
    expect(buildFailure(result)).toBe(
      "E: Unable to locate package nope\nThe command '/bin/sh -c apt-get install -y nope' returned a non-zero code: 100"
    )
  })

  it('keeps BuildKit\'s error lines', () => {
    const stderr = [
      '#5 [2/2] RUN dnf install -y nope',
      '#5 1.2 No match for argument: nope',
      '#5 ERROR: process "/bin/sh -c dnf install -y nope" did not complete successfully: exit code: 1',
      'ERROR: failed to solve: process "/bin/sh -c dnf install -y nope" did not complete successfully: exit code: 1'
    ].join('\n')
    const failure = buildFailure({ stdout: '', stderr })
    expect(failure).toContain('No match for argument: nope')
    expect(failure.split('\n').at(-1)).toMatch(/^ERROR: failed to solve/)
  })

  it('falls back to the last lines, each cut to a readable length', () => {
    const failure = buildFailure({ stdout: `${'x'.repeat(400)}\nlast words\n`, stderr: '' })
    expect(failure).toBe(`${'x'.repeat(300)}…\nlast words`)
  })
})

describe('ingredientsDigest', () => {
  it('is a sha256 in hex', () => {
    expect(ingredientsDigest(BASE_INGREDIENTS)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('is the same for equal ingredients', () => {
    expect(ingredientsDigest({ ...BASE_INGREDIENTS })).toBe(ingredientsDigest(BASE_INGREDIENTS))
    expect(ingredientsDigest({ ...CUSTOM_INGREDIENTS })).toBe(ingredientsDigest(CUSTOM_INGREDIENTS))
  })

  it('does not depend on the order of the keys', () => {
    expect(Object.keys(shuffled(BASE_INGREDIENTS))).not.toEqual(Object.keys(BASE_INGREDIENTS))
    expect(ingredientsDigest(shuffled(BASE_INGREDIENTS))).toBe(ingredientsDigest(BASE_INGREDIENTS))
    expect(ingredientsDigest(shuffled(CUSTOM_INGREDIENTS))).toBe(ingredientsDigest(CUSTOM_INGREDIENTS))
  })

  it.each(Object.keys(BASE_INGREDIENTS))('changes with %s of a generated image', key => {
    const changed = { ...BASE_INGREDIENTS, [key]: CHANGES[key] }
    expect(changed[key]).not.toBe(BASE_INGREDIENTS[key])
    expect(ingredientsDigest(changed)).not.toBe(ingredientsDigest(BASE_INGREDIENTS))
  })

  it.each(Object.keys(CUSTOM_INGREDIENTS))('changes with %s of a user Dockerfile', key => {
    const changed = { ...CUSTOM_INGREDIENTS, [key]: CHANGES[key] === CUSTOM_INGREDIENTS[key] ? 'other' : CHANGES[key] }
    expect(ingredientsDigest(changed)).not.toBe(ingredientsDigest(CUSTOM_INGREDIENTS))
  })

  it('changes with a single byte of the Dockerfile', () => {
    const dockerfile = BASE_INGREDIENTS.dockerfile.replace('vim', 'vin')
    expect(ingredientsDigest({ ...BASE_INGREDIENTS, dockerfile })).not.toBe(ingredientsDigest(BASE_INGREDIENTS))
  })

  it('changes when an ingredient is added or removed', () => {
    const { packages: _packages, ...without } = BASE_INGREDIENTS
    expect(ingredientsDigest(without)).not.toBe(ingredientsDigest(BASE_INGREDIENTS))
    expect(ingredientsDigest({ ...without, packages: '' })).not.toBe(ingredientsDigest(without))
  })

  it('tells which ingredient a value belongs to', () => {
    expect(ingredientsDigest({ buildArgs: 'vim', packages: '' })).not.toBe(
      ingredientsDigest({ buildArgs: '', packages: 'vim' })
    )
    expect(ingredientsDigest({ ab: 'c' })).not.toBe(ingredientsDigest({ a: 'bc' }))
  })
})

describe('cacheKey', () => {
  it.each(['x86_64', 'aarch64'])('starts with systemd-container-v1-%s-', architecture => {
    const key = cacheKey(plan(BASE_INGREDIENTS), architecture)
    expect(key.startsWith(`systemd-container-v1-${architecture}-`)).toBe(true)
    expect(key).toMatch(new RegExp(`^systemd-container-v1-${architecture}-[0-9a-f]{64}$`))
  })

  it('is the same for the same plan and architecture', () => {
    expect(cacheKey(plan({ ...BASE_INGREDIENTS }), 'x86_64')).toBe(cacheKey(plan(BASE_INGREDIENTS), 'x86_64'))
    expect(cacheKey(plan(shuffled(BASE_INGREDIENTS)), 'x86_64')).toBe(cacheKey(plan(BASE_INGREDIENTS), 'x86_64'))
  })

  it('depends on the ingredients only, not on the rest of the plan', () => {
    const other = { ...plan(BASE_INGREDIENTS), reference: 'other:tag', description: 'other' }
    expect(cacheKey(other, 'x86_64')).toBe(cacheKey(plan(BASE_INGREDIENTS), 'x86_64'))
  })

  it.each(Object.keys(BASE_INGREDIENTS))('changes with %s', key => {
    const changed = plan({ ...BASE_INGREDIENTS, [key]: CHANGES[key] })
    expect(cacheKey(changed, 'x86_64')).not.toBe(cacheKey(plan(BASE_INGREDIENTS), 'x86_64'))
  })

  it('changes with the context of a user Dockerfile', () => {
    const changed = plan({ ...CUSTOM_INGREDIENTS, context: CHANGES.context })
    expect(cacheKey(changed, 'aarch64')).not.toBe(cacheKey(plan(CUSTOM_INGREDIENTS), 'aarch64'))
  })

  it('changes with the architecture', () => {
    expect(cacheKey(plan(BASE_INGREDIENTS), 'aarch64')).not.toBe(cacheKey(plan(BASE_INGREDIENTS), 'x86_64'))
  })

  it('is a key the Actions cache takes: short, no comma', () => {
    const key = cacheKey(plan(BASE_INGREDIENTS), 'x86_64')
    expect(key.length).toBeLessThanOrEqual(512)
    expect(key).not.toContain(',')
  })
})

/**
 * A local image reference as the distribution reference grammar has it: path
 * components of lower-case letters and digits joined by one '.', one or two
 * '_' or any number of '-'; a tag of word characters, '.' and '-' that starts
 * with a word character; a name of at most 255 characters.
 */
function isValidReference(reference: string): boolean {
  const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
  const match = new RegExp(`^(${component}(?:/${component})*):([\\w][\\w.-]{0,127})$`).exec(reference)
  if (!match) return false
  const name = match[1]
  const first = name.split('/')[0]
  // A first component with '.' or ':', or localhost, would be read as a registry.
  const local = name.includes('/') ? !/[.:]/.test(first) && first !== 'localhost' : true
  return local && name.length <= 255
}

describe('imageTag', () => {
  it.each([
    'debian:bookworm',
    'registry.example.com:5000/team/img:1.2',
    'quay.io/centos/centos:stream9',
    'UPPER/Case',
    'ubuntu',
    'ghcr.io/owner/my_image:v1.0-rc.1',
    'localhost:5000/img',
    'debian@sha256:' + 'f'.repeat(64),
    'custom'
  ])('is a valid docker reference for %s', base => {
    const tag = imageTag(base, BASE_INGREDIENTS)
    expect(tag).toMatch(/^systemd-container\/[^:]+:[0-9a-f]{16}$/)
    expect(isValidReference(tag)).toBe(true)
  })

  it('keeps the base recognisable', () => {
    expect(imageTag('debian:bookworm', BASE_INGREDIENTS)).toMatch(/^systemd-container\/debian-bookworm:/)
    expect(imageTag('quay.io/centos/centos:stream9', BASE_INGREDIENTS)).toMatch(
      /^systemd-container\/quay-io-centos-centos-stream9:/
    )
    expect(imageTag('registry.example.com:5000/team/img:1.2', BASE_INGREDIENTS)).toMatch(
      /^systemd-container\/registry-example-com-5000-team-img-1-2:/
    )
    expect(imageTag('UPPER/Case', BASE_INGREDIENTS)).toMatch(/^systemd-container\/upper-case:/)
  })

  it('tags with the start of the ingredients digest', () => {
    const tag = imageTag('debian:bookworm', BASE_INGREDIENTS)
    expect(tag.split(':')[1]).toBe(ingredientsDigest(BASE_INGREDIENTS).slice(0, 16))
  })

  it('is the same for the same base and ingredients, in any order', () => {
    expect(imageTag('debian:bookworm', shuffled(BASE_INGREDIENTS))).toBe(imageTag('debian:bookworm', BASE_INGREDIENTS))
  })

  it('changes with the ingredients and with the base', () => {
    const tag = imageTag('debian:bookworm', BASE_INGREDIENTS)
    expect(imageTag('debian:bookworm', { ...BASE_INGREDIENTS, packages: 'curl' })).not.toBe(tag)
    expect(imageTag('debian:trixie', BASE_INGREDIENTS)).not.toBe(tag)
  })

  // Valid bases whose tag has a separator run, a leading or trailing
  // separator, or a name over 255 characters once prefixed.
  it('is a valid docker reference for unusual but valid bases', () => {
    const bases = [
      'example/img:1.0.',
      'example/img:_nightly',
      'example/img:rc-',
      'example/img:1.0-.beta',
      'registry.example.com/' + 'a'.repeat(220) + ':tag'
    ]
    const invalid = bases.map(base => imageTag(base, BASE_INGREDIENTS)).filter(tag => !isValidReference(tag))
    expect(invalid).toEqual([])
  })
})

describe('contextDigest', () => {
  let root: string

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'systemd-container-context-'))
  })

  afterEach(async () => {
    await rm(root, { recursive: true, force: true })
  })

  /** A context folder under the test's temp folder with these files. */
  async function folder(name: string, files: Record<string, string | Buffer>): Promise<string> {
    const dir = join(root, name)
    await mkdir(dir, { recursive: true })
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true })
      await writeFile(join(dir, path), content)
    }
    return dir
  }

  const FILES = {
    Dockerfile: 'FROM debian:bookworm\nCOPY . /srv\n',
    'app/main.sh': '#!/bin/sh\necho hello\n',
    'app/conf/settings.ini': '[main]\nlevel=3\n',
    'data.bin': Buffer.from([0, 1, 2, 3, 255])
  }

  it('is a sha256 in hex', async () => {
    expect(await contextDigest(await folder('a', FILES))).toMatch(/^[0-9a-f]{64}$/)
  })

  it('is the same for the same files in another folder', async () => {
    const a = await contextDigest(await folder('a', FILES))
    const b = await contextDigest(await folder('elsewhere/b', FILES))
    expect(b).toBe(a)
  })

  it('is the same when read twice', async () => {
    const dir = await folder('a', FILES)
    expect(await contextDigest(dir)).toBe(await contextDigest(dir))
  })

  it('does not depend on the order the files were written in', async () => {
    const reversed = Object.fromEntries(Object.entries(FILES).reverse())
    expect(await contextDigest(await folder('b', reversed))).toBe(await contextDigest(await folder('a', FILES)))
  })

  it('is the same for a relative path to the folder', async () => {
    const dir = await folder('a', FILES)
    const cwd = process.cwd()
    process.chdir(root)
    try {
      expect(await contextDigest('a')).toBe(await contextDigest(dir))
    } finally {
      process.chdir(cwd)
    }
  })

  it('changes with one changed byte', async () => {
    const before = await contextDigest(await folder('a', FILES))
    const after = await contextDigest(await folder('b', { ...FILES, 'app/conf/settings.ini': '[main]\nlevel=4\n' }))
    expect(after).not.toBe(before)
    const binary = await contextDigest(await folder('c', { ...FILES, 'data.bin': Buffer.from([0, 1, 2, 3, 254]) }))
    expect(binary).not.toBe(before)
  })

  it('changes when a file is renamed', async () => {
    const dir = await folder('a', FILES)
    const before = await contextDigest(dir)
    await rename(join(dir, 'app/main.sh'), join(dir, 'app/start.sh'))
    expect(await contextDigest(dir)).not.toBe(before)
  })

  it('changes when a file moves to another folder', async () => {
    const dir = await folder('a', FILES)
    const before = await contextDigest(dir)
    await rename(join(dir, 'app/conf/settings.ini'), join(dir, 'app/settings.ini'))
    expect(await contextDigest(dir)).not.toBe(before)
  })

  it('changes when a file is added, even an empty one', async () => {
    const dir = await folder('a', FILES)
    const before = await contextDigest(dir)
    await writeFile(join(dir, 'app/empty'), '')
    const added = await contextDigest(dir)
    expect(added).not.toBe(before)
    await writeFile(join(dir, 'app/conf/extra.ini'), 'x')
    expect(await contextDigest(dir)).not.toBe(added)
  })

  it('changes when a file is removed', async () => {
    const dir = await folder('a', FILES)
    const before = await contextDigest(dir)
    await rm(join(dir, 'data.bin'))
    expect(await contextDigest(dir)).not.toBe(before)
  })

  it("ignores what the .git folder holds", async () => {
    const dir = await folder('a', FILES)
    const before = await contextDigest(dir)
    await mkdir(join(dir, '.git/objects/ab'), { recursive: true })
    await writeFile(join(dir, '.git/HEAD'), 'ref: refs/heads/main\n')
    await writeFile(join(dir, '.git/objects/ab/cdef'), 'blob')
    expect(await contextDigest(dir)).toBe(before)
    await writeFile(join(dir, '.git/HEAD'), 'ref: refs/heads/other\n')
    expect(await contextDigest(dir)).toBe(before)
  })

  it('leaves out what .dockerignore names, as the engine does', async () => {
    const dir = await folder('a', FILES)
    await writeFile(join(dir, '.dockerignore'), 'node_modules\n*.log\n!keep.log\n')
    const before = await contextDigest(dir)

    await mkdir(join(dir, 'node_modules/pkg'), { recursive: true })
    await writeFile(join(dir, 'node_modules/pkg/index.js'), 'module.exports = 1\n')
    await writeFile(join(dir, 'build.log'), 'noise\n')
    expect(await contextDigest(dir)).toBe(before)

    await writeFile(join(dir, 'keep.log'), 'kept by the exception\n')
    expect(await contextDigest(dir)).not.toBe(before)
  })

  it('ignores a nested .git folder too', async () => {
    const dir = await folder('a', FILES)
    const before = await contextDigest(dir)
    await mkdir(join(dir, 'vendor/lib/.git'), { recursive: true })
    await writeFile(join(dir, 'vendor/lib/.git/HEAD'), 'ref: refs/heads/main\n')
    expect(await contextDigest(dir)).toBe(before)
  })

  it('still reads files whose names merely start with .git', async () => {
    const dir = await folder('a', FILES)
    const before = await contextDigest(dir)
    await writeFile(join(dir, '.gitignore'), 'node_modules\n')
    const withIgnore = await contextDigest(dir)
    expect(withIgnore).not.toBe(before)
    await mkdir(join(dir, '.github/workflows'), { recursive: true })
    await writeFile(join(dir, '.github/workflows/ci.yml'), 'on: push\n')
    expect(await contextDigest(dir)).not.toBe(withIgnore)
  })

  it("names input 'context' for a missing folder", async () => {
    const missing = join(root, 'no-such-folder')
    await expect(contextDigest(missing)).rejects.toThrow(ImageError)
    await expect(contextDigest(missing)).rejects.toThrow(`input 'context': cannot read the folder '${missing}'`)
  })

  it("names input 'context' for a file given as the folder", async () => {
    const dir = await folder('a', FILES)
    await expect(contextDigest(join(dir, 'Dockerfile'))).rejects.toThrow("input 'context'")
  })

  // COPY keeps the mode: making a script executable changes the image.
  it('changes when a file becomes executable', async () => {
    const dir = await folder('a', FILES)
    await chmod(join(dir, 'app/main.sh'), 0o644)
    const before = await contextDigest(dir)
    await chmod(join(dir, 'app/main.sh'), 0o755)
    expect(await contextDigest(dir)).not.toBe(before)
  })

  // Path and content are hashed back to back with no length: the end of one
  // file's content can pass for the next file's name.
  it('keeps file boundaries apart', async () => {
    const two = await contextDigest(await folder('a', { a: 'X', b: 'Y' }))
    const one = await contextDigest(await folder('b', { a: 'Xb\0Y' }))
    expect(one).not.toBe(two)
  })
})
