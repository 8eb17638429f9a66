import { createHash } from 'node:crypto'
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'

import * as dockerignoreModule from '@balena/dockerignore'

import { BaseFacts, generateDockerfile, KNOWN_TOOLS, packageManagerFor, parseOsRelease } from './distro.js'
import { stripTerminalCodes } from './diagnose.js'
import { Docker, DockerError } from './docker.js'
import { fromImages } from './dockerfile.js'
import { Log } from './log.js'

/** What the user asked to run: a base image to give systemd, or a Dockerfile of their own. */
export interface ImageRequest {
  base: string
  packages: string[]
  /** Path of the user's Dockerfile; when set, `base` is not used. */
  dockerfile?: string
  /** Build context of the user's Dockerfile. */
  context?: string
  /** `NAME=value` build arguments for the user's Dockerfile. */
  buildArgs: string[]
}

/** How the image will be had, and everything that decides its content. */
export interface ImagePlan {
  /** The reference the container runs: the base itself, or the tag of a build. */
  reference: string
  /** What the log says the image is. */
  description: string
  /** Absent when the base image already boots systemd and is used as it is. */
  build?: {
    dockerfile: string
    /** Folder sent to the engine; undefined for a generated Dockerfile (empty context). */
    context?: string
    buildArgs: string[]
  }
  /** Every ingredient of the image; equal ingredients give the same image. */
  ingredients: Record<string, string>
  /** The base image a generated Dockerfile starts from. */
  base?: string
}

/** An image that could not be planned or built. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ImageError'
  }
}

/** The action's major version: a new major never reuses an older image. */
export const IMAGE_SCHEMA = 'v1'

/**
 * Decides how to get a systemd image: a user Dockerfile is built as given; a
 * base image is looked into and given systemd with its own package manager,
 * unless it already boots systemd.
 */
export async function planImage(
  docker: Docker,
  log: Log,
  request: ImageRequest,
  architecture: string
): Promise<ImagePlan> {
  const common = { schema: IMAGE_SCHEMA, architecture, buildArgs: request.buildArgs.join('\n') }

  if (request.dockerfile) {
    const dockerfile = await readUserFile(request.dockerfile)
    // Without a context, the Dockerfile's own folder: not the whole checkout.
    const context = request.context || dirname(request.dockerfile)
    const ingredients = {
      ...common,
      dockerfile,
      context: await contextDigest(context),
      bases: await fromDigests(docker, fromImages(dockerfile, request.buildArgs))
    }
    return {
      reference: imageTag('custom', ingredients),
      description: `${request.dockerfile} (context ${context})`,
      build: { dockerfile, context, buildArgs: request.buildArgs },
      ingredients
    }
  }

  const base = (await inspectBase(docker, request.base)) ?? (await pullBase(docker, log, request.base))
  const facts = await lookInside(docker, request.base)

  if (base.bootsSystemd && request.packages.length === 0) {
    return {
      reference: request.base,
      description: `${facts.os.prettyName}: the image boots systemd already and is used as it is`,
      ingredients: { ...common, base: base.digest }
    }
  }

  const manager = packageManagerFor(facts)
  const dockerfile = generateDockerfile(request.base, manager, request.packages)
  const ingredients = { ...common, dockerfile, base: base.digest, packages: request.packages.join(' ') }
  return {
    reference: imageTag(request.base, ingredients),
    description: `${facts.os.prettyName}, systemd installed with ${manager}`,
    build: { dockerfile, buildArgs: [] },
    ingredients,
    base: request.base
  }
}

/**
 * Each image a user's Dockerfile starts from, with its digest where the engine
 * has it: a rebuilt upstream image makes a new key. One the engine has not
 * pulled yet counts by name alone, as it will until the runner has it.
 */
async function fromDigests(docker: Docker, images: string[]): Promise<string> {
  const found = await Promise.all(
    images.map(async image => {
      const base = image.includes('$') ? undefined : await inspectBase(docker, image)
      return base ? `${image}@${base.digest}` : image
    })
  )
  return found.join('\n')
}

/** A local tag that names the base and digests every ingredient. */
export function imageTag(base: string, ingredients: Record<string, string>): string {
  // A repository path component is lower-case letters and digits joined by
  // separators; anything else in the base name becomes a single dash.
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 100)
    .replace(/^-+|-+$/g, '')
  return `systemd-container/${name || 'image'}:${ingredientsDigest(ingredients).slice(0, 16)}`
}

/** One digest for all ingredients; the order they were listed in does not matter. */
export function ingredientsDigest(ingredients: Record<string, string>): string {
  const sorted = Object.keys(ingredients)
    .sort()
    .map(key => [key, ingredients[key]])
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex')
}

/** True when the engine has an image with this reference. */
export async function imageExists(docker: Docker, reference: string): Promise<boolean> {
  const result = await docker.call(['image', 'inspect', '--format', '{{.Id}}', reference])
  return result.exitCode === 0
}

/** The engine's ID of an image. */
export async function imageId(docker: Docker, reference: string): Promise<string> {
  return docker.ok(['image', 'inspect', '--format', '{{.Id}}', reference])
}

/**
 * How many layers the built image shares with its base, at its bottom: 0 for
 * a user Dockerfile, whose base the action does not know.
 */
export async function baseLayerCount(docker: Docker, plan: ImagePlan): Promise<number> {
  if (!plan.base) return 0
  const layers = async (reference: string) =>
    JSON.parse(await docker.ok(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', reference])) as string[]
  const [base, built] = await Promise.all([layers(plan.base), layers(plan.reference)])
  return base.every((layer, at) => built[at] === layer) ? base.length : 0
}

/** Builds the plan's image; a generated Dockerfile gets an empty context. */
export async function buildImage(docker: Docker, plan: ImagePlan): Promise<void> {
  if (!plan.build) return

  const scratch = await mkdtemp(join(tmpdir(), 'systemd-container-build-'))
  try {
    const dockerfilePath = join(scratch, 'Dockerfile')
    await writeFile(dockerfilePath, plan.build.dockerfile)
    const context = plan.build.context ?? scratch
    // --force-rm: a failed step leaves no intermediate container behind.
    const args = ['build', '--force-rm', '--tag', plan.reference, '--file', dockerfilePath]
    for (const buildArg of plan.build.buildArgs) args.push('--build-arg', buildArg)
    await docker.ok([...args, context], { stream: true })
  } catch (error) {
    if (error instanceof DockerError) {
      throw new ImageError(`the systemd image could not be built:\n${buildFailure(error.result)}`)
    }
    throw error
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

async function pullBase(docker: Docker, log: Log, base: string): Promise<BaseImage> {
  log.info(`pulling ${base}`)
  const pulled = await docker.call(['pull', base], { stream: true })
  const image = pulled.exitCode === 0 ? await inspectBase(docker, base) : undefined
  if (!image) {
    throw new ImageError(
      `input 'image': '${base}' is not on the engine and cannot be pulled: ${lastLines(pulled)}`
    )
  }
  return image
}

interface BaseImage {
  /** The registry digest where the engine knows one, the image ID otherwise. */
  digest: string
  /** The image's own command starts systemd (an `-init` image, say). */
  bootsSystemd: boolean
}

/** The base image as the engine has it, or undefined when it has none. */
async function inspectBase(docker: Docker, base: string): Promise<BaseImage | undefined> {
  const result = await docker.call(['image', 'inspect', '--format', '{{json .}}', base])
  if (result.exitCode !== 0) return undefined
  const image = JSON.parse(result.stdout) as {
    Id: string
    RepoDigests?: string[]
    Config?: { Cmd?: string[] | null; Entrypoint?: string[] | null }
  }
  const command = [...(image.Config?.Entrypoint ?? []), ...(image.Config?.Cmd ?? [])]
  return {
    digest: image.RepoDigests?.[0]?.split('@')[1] ?? image.Id,
    bootsSystemd: commandBootsSystemd(command)
  }
}

/**
 * True when an image's entrypoint and command start systemd: `/sbin/init` or
 * systemd itself. A bare `/init` is s6-overlay's, not systemd's.
 */
export function commandBootsSystemd(command: string[]): boolean {
  return /(^|\/)systemd$|\/sbin\/init$/.test(command[0] ?? '')
}

const LOOK_INSIDE = [
  'cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null',
  'echo ---',
  `for tool in ${KNOWN_TOOLS.join(' ')}; do command -v "$tool" >/dev/null 2>&1 && echo "$tool"; done`,
  'true'
].join('\n')

/** Reads os-release and the package managers inside the base image. */
async function lookInside(docker: Docker, base: string): Promise<BaseFacts> {
  const result = await docker.call(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', base, '-c', LOOK_INSIDE])
  if (result.exitCode !== 0) {
    throw new ImageError(
      `input 'image': could not look inside '${base}' (it needs /bin/sh): ${lastLines(result)}`
    )
  }
  const [osRelease, tools = ''] = result.stdout.split('\n---\n')
  return { os: parseOsRelease(osRelease), tools: tools.split('\n').map(t => t.trim()).filter(Boolean) }
}

async function readUserFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch {
    throw new ImageError(`input 'dockerfile': cannot read '${path}' (looked at ${resolve(path)})`)
  }
}

/**
 * A digest of the build context as the engine gets it: every file that
 * .dockerignore lets through (and never .git), with its path, permission
 * bits and content, and every symbolic link's target. Each part is
 * length-prefixed, so no two different contexts run together into the same bytes.
 */
export async function contextDigest(context: string): Promise<string> {
  let entries
  try {
    entries = await readdir(context, { recursive: true, withFileTypes: true })
  } catch {
    throw new ImageError(`input 'context': cannot read the folder '${context}'`)
  }

  const ignored = await ignoredBy(context)
  const paths = entries
    .filter(entry => entry.isFile() || entry.isSymbolicLink())
    .map(entry => relative(context, join(entry.parentPath, entry.name)))
    .filter(path => !path.split('/').includes('.git') && !ignored(path))
    .sort()

  const hash = createHash('sha256')
  const part = (data: string | Buffer) => hash.update(`${Buffer.byteLength(data)}:`).update(data)
  for (const path of paths) {
    const full = join(context, path)
    const stats = await lstat(full)
    part(path)
    part((stats.mode & 0o7777).toString(8))
    part(stats.isSymbolicLink() ? `-> ${await readlink(full)}` : await readFile(full))
  }
  return hash.digest('hex')
}

/** The context's .dockerignore as a test of relative paths; nothing is ignored without one. */
async function ignoredBy(context: string): Promise<(path: string) => boolean> {
  const rules = await readFile(join(context, '.dockerignore'), 'utf8').catch(() => '')
  // A CommonJS module whose types say otherwise: its function is the namespace's default.
  const factory = dockerignoreModule.default as unknown as () => {
    add(rules: string[]): { ignores(path: string): boolean }
  }
  const matcher = factory().add(rules.split('\n'))
  return path => matcher.ignores(path)
}

// The legacy builder's notice about itself, and its bookkeeping lines.
const BUILD_NOISE = /^(DEPRECATED:|\s+Install the buildx|\s+https:\/\/docs\.docker\.com\/go\/buildx|Removing intermediate container| ---> |Sending build context)/
const BUILD_ERROR = /(^E: |error|Error|ERROR|No match for argument|not found|Unable to|Problem|returned a non-zero code|exit code)/

/**
 * The lines of a failed build that say why: the package manager's own error
 * lines, and the step that failed, from the output of either builder.
 */
export function buildFailure(result: { stdout: string; stderr: string }): string {
  const lines = stripTerminalCodes(`${result.stdout}\n${result.stderr}`)
    .split('\n')
    .filter(line => line.trim() && !BUILD_NOISE.test(line))
    .map(line => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
  const errors = lines.filter(line => BUILD_ERROR.test(line))
  return (errors.length ? errors : lines).slice(-6).join('\n')
}

function lastLines(result: { stdout: string; stderr: string }): string {
  const text = (result.stderr.trim() || result.stdout.trim()).split('\n')
  return text.slice(-5).join('\n')
}
