// A local stand-in for GitHub's cache service (the "v2" Twirp protocol that
// @actions/cache 6 speaks) backed by Azurite, so the real client uploads to and
// downloads from a real blob store through signed URLs, as it does on GitHub.
// Used by the end-to-end tests and by scripts/bench.mjs; types in
// scripts/cache-service.d.mts.
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential
} from '@azure/storage-blob'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * @typedef {import('./cache-service.d.mts').CacheService} CacheService
 * @typedef {import('./cache-service.d.mts').CacheServiceOptions} CacheServiceOptions
 * @typedef {{ id: number, key: string, version: string, blob: string, finalized: boolean }} Entry
 * @typedef {{ status: number, body: object }} Twirp
 */

const SERVICE = 'github.actions.results.api.v1.CacheService'
const CONTAINER = 'actions-cache'
const SIGNED_URL_LIFETIME_MS = 60 * 60 * 1000

/**
 * Starts Azurite and the Twirp service in front of it, both on free loopback
 * ports of this process.
 * @param {CacheServiceOptions} [options]
 * @returns {Promise<CacheService>}
 */
export async function startCacheService(options = {}) {
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'cache-service-')))
  const blobs = await startAzurite(join(root, 'azurite'))
  const container = blobs.client.getContainerClient(CONTAINER)
  await container.createIfNotExists()

  const token = randomBytes(16).toString('hex')
  /** @type {Entry[]} */
  const entries = []
  let nextId = 1
  let failingUploads = false

  /**
   * @param {string} blob
   * @param {string} permissions
   */
  const signedUrl = (blob, permissions) => {
    const sas = generateBlobSASQueryParameters(
      {
        containerName: CONTAINER,
        blobName: blob,
        permissions: BlobSASPermissions.parse(permissions),
        startsOn: new Date(Date.now() - 60 * 1000),
        expiresOn: new Date(Date.now() + SIGNED_URL_LIFETIME_MS)
      },
      blobs.credential
    )
    return `${container.getBlockBlobClient(blob).url}?${sas.toString()}`
  }

  // Requests come in protobuf's JSON mapping with the proto field names
  // (snake_case); answers use them too, since the client hides the `sig` of
  // `signed_upload_url` / `signed_download_url` from logs by those names.

  // Only finalized entries count for lookups and for "already exists".
  const finalized = () => entries.filter(entry => entry.finalized)

  /**
   * @param {{ key?: string, version?: string }} request
   * @returns {Twirp}
   */
  function createCacheEntry(request) {
    const { key, version } = request
    if (!key || !version) return twirpError(400, 'invalid_argument', 'key and version are required')
    // GitHub refuses a second entry for the same key and version with a Twirp
    // error, not with `ok: false`; the client turns it into "Unable to reserve
    // cache with key ..., another job may be creating this cache." and returns -1.
    if (finalized().some(entry => entry.key === key && entry.version === version)) {
      return twirpError(409, 'already_exists', 'cache entry with the same key, version, and scope already exists')
    }
    // A reservation that was never finalized (a failed upload) is simply
    // replaced, so that a test can save again under the same key.
    const pending = entries.findIndex(entry => entry.key === key && entry.version === version)
    if (pending >= 0) entries.splice(pending, 1)

    const id = nextId++
    /** @type {Entry} */
    const entry = { id, key, version, blob: `${id}-${version}`, finalized: false }
    entries.push(entry)
    // The client uploads with the Azure SDK to whatever URL it gets. A signed
    // URL that only lets read makes Azurite answer 403, which the client does
    // not retry: it warns "Failed to save" and skips FinalizeCacheEntryUpload.
    const permissions = failingUploads ? 'r' : 'cw'
    return twirpOk({ ok: true, signed_upload_url: signedUrl(entry.blob, permissions) })
  }

  /**
   * @param {{ key?: string, version?: string, size_bytes?: string }} request
   * @returns {Promise<Twirp>}
   */
  async function finalizeCacheEntryUpload(request) {
    const entry = entries.find(entry => !entry.finalized && entry.key === request.key && entry.version === request.version)
    if (!entry) return twirpError(404, 'not_found', `no reservation for key ${request.key} and version ${request.version}`)
    // The client uploads straight to the blob store; check that the archive
    // really landed there before the entry becomes visible.
    const properties = await container
      .getBlockBlobClient(entry.blob)
      .getProperties()
      .catch(() => undefined)
    const expected = Number(request.size_bytes ?? 0)
    if (properties?.contentLength !== expected) {
      return twirpOk({ ok: false, message: `stored archive is ${properties?.contentLength ?? 0} B, expected ${expected} B` })
    }
    entry.finalized = true
    // int64 fields travel as strings in protobuf's JSON mapping.
    return twirpOk({ ok: true, entry_id: String(entry.id) })
  }

  /**
   * @param {{ key?: string, restore_keys?: string[], version?: string }} request
   * @returns {Twirp}
   */
  function getCacheEntryDownloadUrl(request) {
    const candidates = finalized().filter(entry => entry.version === request.version)
    /** @param {Entry[]} list */
    const newest = list => list.sort((a, b) => b.id - a.id)[0]
    // As on GitHub: the primary key, then each restore key in order; for each,
    // an exact match first, else the newest entry whose key starts with it.
    for (const wanted of [request.key ?? '', ...(request.restore_keys ?? [])]) {
      const match =
        newest(candidates.filter(entry => entry.key === wanted)) ??
        newest(candidates.filter(entry => entry.key.startsWith(wanted)))
      // The client downloads with the Azure SDK only from *.blob.core.windows.net;
      // from Azurite's 127.0.0.1 URL it falls back to one plain HTTP GET.
      if (match) return twirpOk({ ok: true, signed_download_url: signedUrl(match.blob, 'r'), matched_key: match.key })
    }
    // A miss is a successful call that says `ok: false`, not a Twirp not_found.
    return twirpOk({ ok: false })
  }

  /** @type {Record<string, (request: any) => Twirp | Promise<Twirp>>} */
  const routes = {
    CreateCacheEntry: createCacheEntry,
    FinalizeCacheEntryUpload: finalizeCacheEntryUpload,
    GetCacheEntryDownloadURL: getCacheEntryDownloadUrl
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(error => reply(res, twirpError(500, 'internal', String(error))))
  })

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  async function handle(req, res) {
    const body = await readBody(req)
    const [, twirp, service, method] = (req.url ?? '').split('?')[0].split('/')
    const route = twirp === 'twirp' && service === SERVICE && req.method === 'POST' ? routes[method] : undefined
    if (!route) return reply(res, twirpError(404, 'bad_route', `no handler for ${req.method} ${req.url}`))
    if (req.headers.authorization !== `Bearer ${token}`) {
      return reply(res, twirpError(401, 'unauthenticated', 'ACTIONS_RUNTIME_TOKEN is missing or wrong'))
    }
    reply(res, await route(JSON.parse(body || '{}')))
  }

  await new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())

  return {
    env: {
      // Selects the Twirp protocol ("v2"); without it the client speaks the
      // retired REST protocol at ACTIONS_CACHE_URL.
      ACTIONS_CACHE_SERVICE_V2: 'true',
      // The client posts to `/twirp/...` resolved against this URL, so any
      // path here is dropped.
      ACTIONS_RESULTS_URL: `http://127.0.0.1:${port}/`,
      // Sent as a bearer token; the client never decodes it, so it needs no JWT shape.
      ACTIONS_RUNTIME_TOKEN: token,
      // Any host but github.com, *.ghe.com or *.localhost counts as GHES, where
      // the client falls back to the old protocol.
      GITHUB_SERVER_URL: 'https://github.com'
    },

    async stop() {
      server.closeAllConnections()
      await new Promise(resolve => server.close(() => resolve(undefined)))
      await blobs.stop()
      if (!options.root) await rm(root, { recursive: true, force: true })
    },

    async entries() {
      return finalized().map(entry => entry.key)
    },

    async corrupt(key) {
      const matching = finalized().filter(entry => entry.key === key)
      if (matching.length === 0) throw new Error(`no cache entry under key ${key}`)
      for (const entry of matching) await overwriteWithGarbage(container, entry.blob)
    },

    failUploads(on) {
      failingUploads = on
    }
  }
}

/**
 * @param {import('@azure/storage-blob').ContainerClient} container
 * @param {string} blob
 */
async function overwriteWithGarbage(container, blob) {
  const client = container.getBlockBlobClient(blob)
  const { contentLength = 0 } = await client.getProperties()
  const garbage = Buffer.alloc(Math.max(contentLength, 64), 'not a cache archive\n')
  await client.upload(garbage, garbage.length)
}

/**
 * @param {object} body
 * @returns {Twirp}
 */
function twirpOk(body) {
  return { status: 200, body }
}

/**
 * @param {number} status
 * @param {string} code
 * @param {string} msg
 * @returns {Twirp}
 */
function twirpError(status, code, msg) {
  return { status, body: { code, msg } }
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {Twirp} answer
 */
function reply(res, { status, body }) {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<string>}
 */
async function readBody(req) {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Azurite's blob service in this process, on a free loopback port, keeping
 * its data under `folder`. Azurite ships no types and no ESM entry, so its
 * classes are loaded with require.
 * @param {string} folder
 * @returns {Promise<{ client: BlobServiceClient, credential: StorageSharedKeyCredential, stop(): Promise<void> }>}
 */
async function startAzurite(folder) {
  const require = createRequire(import.meta.url)
  const BlobServer = require('azurite/dist/src/blob/BlobServer.js').default
  const BlobConfiguration = require('azurite/dist/src/blob/BlobConfiguration.js').default
  const { EMULATOR_ACCOUNT_NAME, EMULATOR_ACCOUNT_KEY_STR } = require('azurite/dist/src/blob/utils/constants.js')

  await mkdir(folder, { recursive: true })
  const configuration = new BlobConfiguration(
    '127.0.0.1',
    0, // a free port
    undefined, // keep-alive timeout: default
    join(folder, '__azurite_db_blob__.json'),
    join(folder, '__azurite_db_blob_extent__.json'),
    [{ locationId: 'Default', locationPath: join(folder, '__blobstorage__'), maxConcurrency: 10 }],
    false, // access log
    undefined,
    false, // debug log
    undefined,
    true, // loose: ignore headers Azurite does not know
    true // skip the API version check: the Azure SDK may be newer than Azurite
  )
  /** @type {{ start(): Promise<void>, close(): Promise<void>, getHttpServerAddress(): string }} */
  const server = new BlobServer(configuration)
  await server.start()

  const credential = new StorageSharedKeyCredential(EMULATOR_ACCOUNT_NAME, EMULATOR_ACCOUNT_KEY_STR)
  const client = new BlobServiceClient(`${server.getHttpServerAddress()}/${EMULATOR_ACCOUNT_NAME}`, credential)
  return { client, credential, stop: () => server.close() }
}
