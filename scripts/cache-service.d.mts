/**
 * A local stand-in for GitHub's cache service (the "v2" Twirp protocol that
 * @actions/cache 6 speaks) backed by Azurite, so the real client uploads to and
 * downloads from a real blob store through signed URLs, as it does on GitHub.
 */
export interface CacheService {
  /** Everything a process needs in its environment for @actions/cache to use this service. */
  env: Record<string, string>
  stop(): Promise<void>
  /** The keys of the finalized entries, oldest first (a key saved under two versions shows twice). */
  entries(): Promise<string[]>
  /** Overwrites the stored archive of every entry under `key` with garbage of the same size. */
  corrupt(key: string): Promise<void>
  /** While on, uploads are refused by the blob store (403), as with a bad signed URL. */
  failUploads(on: boolean): void
}

export interface CacheServiceOptions {
  /** Where Azurite keeps its blobs; a temporary folder, removed on stop, when not given. */
  root?: string
}

export function startCacheService(options?: CacheServiceOptions): Promise<CacheService>
