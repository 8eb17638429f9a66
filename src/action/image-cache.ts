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
  /** Built by this run. */
  built: boolean
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
  const prepared = (cacheHit: boolean, built: boolean) =>
    imageId(docker, plan.reference).then(id => ({ reference: plan.reference, id, cacheHit, built }))

  if (!plan.build) return prepared(false, false)
  if (await imageExists(docker, plan.reference)) {
    core.info(`${plan.reference} is already on the engine: no build`)
    return prepared(false, false)
  }

  const key = cacheKey(plan, architecture)
  const cacheReady = useCache && cacheAvailable()
  if (cacheReady && (await restoreImage(docker, plan, key))) {
    const loaded = await prepared(true, false).catch(() => undefined)
    if (loaded) return loaded
    core.warning(`The cached archive did not hold ${plan.reference}; building instead`)
  }

  core.info(`building ${plan.reference}`)
  core.debug(`Dockerfile:\n${plan.build.dockerfile}`)
  await buildImage(docker, plan)
  if (cacheReady) await saveImage(docker, plan, key)
  return prepared(false, true)
}

function cacheAvailable(): boolean {
  if (cache.isFeatureAvailable()) return true
  core.info('The Actions cache service is not available here: the image is built without it')
  return false
}

/**
 * The cache stores the archive's path in the entry's version, so the path must
 * be the same on every runner (RUNNER_TEMP is not, on self-hosted runners),
 * and two jobs on one machine must not share it unless they share the image:
 * a fixed folder and the key as the name.
 */
async function archivePath(key: string): Promise<string> {
  const folder = '/tmp/systemd-container'
  await mkdir(folder, { recursive: true })
  return join(folder, `${key}.tar`)
}

async function restoreImage(docker: Docker, plan: ImagePlan, key: string): Promise<boolean> {
  const archive = await archivePath(key)
  try {
    const hit = await cache.restoreCache([archive], key)
    if (!hit) {
      core.info(`cache miss for ${key}`)
      return false
    }

    await docker.ok(['load', '--input', archive])
    core.info(`cache hit: ${plan.reference} loaded from ${key}`)
    return true
  } catch (error) {
    core.warning(`The cached image could not be used (${(error as Error).message}); building instead`)
    return false
  } finally {
    await rm(archive, { force: true })
  }
}

async function saveImage(docker: Docker, plan: ImagePlan, key: string): Promise<void> {
  const archive = await archivePath(key)
  const scratch = `${archive}.${process.pid}`
  try {
    await docker.ok(['save', '--output', scratch, plan.reference])
    const baseLayers = await baseLayerCount(docker, plan)
    if (baseLayers > 0) {
      const dropped = await dropBaseLayers(scratch, `${scratch}.slim`, baseLayers)
      await rename(`${scratch}.slim`, scratch)
      core.info(`the archive leaves out ${dropped} layer(s) of ${plan.base}, which the engine has`)
    }
    // A rename: another job saving the same image on this machine never sees half a file.
    await rename(scratch, archive)

    const cacheId = await cache.saveCache([archive], key)
    if (cacheId !== -1) core.info(`saved ${plan.reference} to the cache as ${key}`)
  } catch (error) {
    const exists = error instanceof cache.ReserveCacheError
    const message = `The image was not saved to the cache: ${(error as Error).message}`
    if (exists) core.info(message)
    else core.warning(message)
  } finally {
    await Promise.all([scratch, `${scratch}.slim`, archive].map(path => rm(path, { force: true })))
  }
}
