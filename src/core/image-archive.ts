import { createReadStream, createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import * as tar from 'tar-stream'

/**
 * A `docker save` archive without the layers of the base image. The base is
 * on the engine whenever the archive is loaded (the cache key holds its
 * digest, and the action looks inside it first), and `docker load` skips a
 * layer the engine already has without opening its file: the archive shrinks
 * from the whole image to what the build added.
 */
export async function dropBaseLayers(archive: string, slim: string, baseLayers: number): Promise<number> {
  const manifest = await readManifest(archive)
  const dropped = new Set<string>()
  for (const image of manifest) {
    const kept = new Set(image.Layers.slice(baseLayers))
    for (const path of image.Layers.slice(0, baseLayers)) if (!kept.has(path)) dropped.add(path)
  }

  const extract = tar.extract()
  const pack = tar.pack()
  extract.on('entry', (header, stream, next) => {
    if (dropped.has(header.name)) {
      stream.on('end', next)
      stream.resume()
    } else {
      stream.pipe(pack.entry(header, next))
    }
  })
  extract.on('finish', () => pack.finalize())

  await Promise.all([
    pipeline(createReadStream(archive), extract),
    pipeline(pack, createWriteStream(slim))
  ])
  return dropped.size
}

interface ManifestEntry {
  Config: string
  Layers: string[]
}

/** The manifest.json of a `docker save` archive (legacy and OCI layouts both have one). */
async function readManifest(archive: string): Promise<ManifestEntry[]> {
  let text: string | undefined
  const extract = tar.extract()
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = []
    const wanted = header.name === 'manifest.json'
    stream.on('data', (chunk: unknown) => {
      if (wanted) chunks.push(chunk as Buffer)
    })
    stream.on('end', () => {
      if (wanted) text = Buffer.concat(chunks).toString('utf8')
      next()
    })
  })
  await pipeline(createReadStream(archive), extract)

  if (!text) throw new Error('the archive has no manifest.json')
  return JSON.parse(text) as ManifestEntry[]
}
