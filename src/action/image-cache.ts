import * as cache from '@actions/cache'
import * as core from '@actions/core'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

import { Docker } from '../core/docker.js'
import { dropBaseLayers } from '../core/image-archive.js'
import {
  baseLayerCount,
  buildImage,
  IMAGE_SCHEMA,
  imageExists,
  imageId,
  ImagePlan,
  ImageRequest,
  ingredientsDigest,
  planImage
} from '../core/image.js'

/** The image the container will run, and how this run got it. */
export interface PreparedImage {
  reference: string
  id: string
  /** Loaded from the Actions cache. */
  cacheHit: boolean
}

/** The cache key: everything that decides the image, digested. */
export function cacheKey(plan: ImagePlan, architecture: string): string {
  return `systemd-container-${IMAGE_SCHEMA}-${architecture}-${ingredientsDigest(plan.ingredients)}`
}

/**
 * Gets the systemd image: already on the engine, loaded from the Actions
 * cache, or built (and then saved to the cache). The cache is an
 * optimisation: whatever goes wrong with it is a warning and a normal build.
 */
export async function prepareImage(
  docker: Docker,
  request: ImageRequest,
  useCache: boolean,
  architecture: string
): Promise<PreparedImage> {
  const plan = await planImage(docker, core, request, architecture)
  core.info(`Image: ${plan.description}`)
  const prepared = (cacheHit: boolean) =>
    imageId(docker, plan.reference).then(id => ({ reference: plan.reference, id, cacheHit }))

  if (!plan.build) return prepared(false)
  if (await imageExists(docker, plan.reference)) {
    core.info(`${plan.reference} is already on the engine: no build`)
    return prepared(false)
  }

  const key = cacheKey(plan, architecture)
  const cacheReady = useCache && cacheAvailable()
  if (cacheReady && (await restoreImage(docker, key))) {
    const loaded = await prepared(true).catch(() => undefined)
    if (loaded) return loaded
    core.warning(`The cached archive did not hold ${plan.reference}; building instead`)
  }

  core.info(`building ${plan.reference}`)
  core.debug(`Dockerfile:\n${plan.build.dockerfile}`)
  await buildImage(docker, plan)
  if (cacheReady) await saveImage(docker, plan, key)
  return prepared(false)
}

function cacheAvailable(): boolean {
  if (cache.isFeatureAvailable()) return true
  core.warning('The Actions cache service is not available here: the image is built without it')
  return false
}

/**
 * Runs `use` with the archive's path. The cache keeps that path relative to
 * the workspace, in the archive and in the entry's version: so the archive
 * lives in the workspace, named relative to it, the same on every runner and
 * private to the job. The folder is gone afterwards.
 */
async function withArchive<T>(key: string, use: (archive: string) => Promise<T>): Promise<T> {
  const previous = process.cwd()
  process.chdir(process.env.GITHUB_WORKSPACE || previous)
  const folder = '.systemd-container-cache'
  try {
    await mkdir(folder, { recursive: true })
    return await use(join(folder, `${key}.tar`))
  } finally {
    await rm(folder, { recursive: true, force: true })
    process.chdir(previous)
  }
}

async function restoreImage(docker: Docker, key: string): Promise<boolean> {
  return withArchive(key, async archive => {
    try {
      const hit = await cache.restoreCache([archive], key)
      if (!hit) {
        core.info(`cache miss for ${key}`)
        return false
      }
      await docker.ok(['load', '--input', archive])
      core.info(`cache hit: loaded from ${key}`)
      return true
    } catch (error) {
      core.warning(`The cached image could not be used (${(error as Error).message}); building instead`)
      return false
    }
  })
}

async function saveImage(docker: Docker, plan: ImagePlan, key: string): Promise<void> {
  await withArchive(key, async archive => {
    try {
      await docker.ok(['save', '--output', archive, plan.reference])
      const baseLayers = await baseLayerCount(docker, plan)
      if (baseLayers > 0) {
        const dropped = await dropBaseLayers(archive, `${archive}.slim`, baseLayers)
        await rename(`${archive}.slim`, archive)
        core.info(`the archive leaves out ${dropped} layer(s) of ${plan.base}, which the engine has`)
      }
      const cacheId = await cache.saveCache([archive], key)
      if (cacheId !== -1) core.info(`saved ${plan.reference} to the cache as ${key}`)
    } catch (error) {
      core.warning(`The image was not saved to the cache: ${(error as Error).message}`)
    }
  })
}
