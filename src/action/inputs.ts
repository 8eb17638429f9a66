import * as core from '@actions/core'
import { isAbsolute } from 'node:path'
import { parse as parseShellWords } from 'shell-quote'

import { exposesCgroupTree } from '../core/mounts.js'
import { DEFAULT_DAEMON_CONFIG } from '../core/daemon-config.js'
import { ImageRequest } from '../core/image.js'
import { RequestedStrategy, STRATEGIES } from '../core/strategy.js'
import { Input } from './constants.js'

export const JOURNAL_MODES = ['on-failure', 'always', 'never'] as const
export type JournalMode = (typeof JOURNAL_MODES)[number]

/** Every input of the action, read and checked once. */
export interface Inputs {
  image: ImageRequest
  cache: boolean
  strategy: RequestedStrategy
  bootTimeout: number
  failOnDegraded: boolean
  mountWorkspace: boolean
  volumes: string[]
  env: string[]
  ports: string[]
  options: string[]
  name: string
  keepContainer: boolean
  showJournal: JournalMode
  stopTimeout: number
  cgroupParent: string
  daemonConfig: string
  restoreDaemon: boolean
}

/** An input whose value cannot work; the message names the input and what would. */
export class InputError extends Error {
  constructor(input: Input, message: string) {
    super(`input '${input}': ${message}`)
    this.name = 'InputError'
  }
}

/** Reads and checks every input; throws InputError before anything is touched. */
export function readInputs(): Inputs {
  return {
    image: imageRequest(),
    cache: boolean(Input.Cache, true),
    strategy: oneOf(Input.Strategy, ['auto', ...STRATEGIES], 'auto'),
    bootTimeout: positiveNumber(Input.BootTimeout, 120),
    failOnDegraded: boolean(Input.FailOnDegraded, false),
    mountWorkspace: boolean(Input.MountWorkspace, true),
    volumes: volumes(),
    env: assignments(Input.Env),
    ports: ports(),
    options: runOptions(),
    name: containerName(),
    keepContainer: boolean(Input.KeepContainer, false),
    showJournal: oneOf(Input.ShowJournal, JOURNAL_MODES, 'on-failure'),
    stopTimeout: positiveNumber(Input.StopTimeout, 30, { whole: true }),
    cgroupParent: core.getInput(Input.CgroupParent),
    daemonConfig: daemonConfigPath(),
    restoreDaemon: boolean(Input.RestoreDaemon, true)
  }
}

function oneOf<T extends string>(input: Input, allowed: readonly T[], fallback: T): T {
  const value = core.getInput(input) || fallback
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(input, `'${value}' is not one of ${allowed.join(', ')}`)
  }
  return value as T
}

// A job runs for six hours at most on hosted runners: no wait needs to be longer.
const MAX_SECONDS = 6 * 60 * 60

function positiveNumber(input: Input, fallback: number, options: { whole?: boolean } = {}): number {
  const raw = core.getInput(input)
  if (!raw) return fallback

  // Plain decimals only: Number() alone would take 0x10 and 1e1.
  const value = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN
  const kind = options.whole ? 'whole number' : 'number'
  const fits = Number.isFinite(value) && value > 0 && value <= MAX_SECONDS
  if (!fits || (options.whole && !Number.isInteger(value))) {
    throw new InputError(
      input,
      `'${raw}' is not a positive ${kind} of seconds up to ${MAX_SECONDS} (for example ${fallback})`
    )
  }
  return value
}

function boolean(input: Input, fallback: boolean): boolean {
  const raw = core.getInput(input).toLowerCase()
  if (!raw) return fallback
  if (raw === 'true') return true
  if (raw === 'false') return false
  throw new InputError(input, `'${raw}' is neither true nor false`)
}

/** One item a line or comma, blanks dropped. */
function list(input: Input): string[] {
  return core
    .getMultilineInput(input)
    .flatMap(line => line.split(','))
    .map(item => item.trim())
    .filter(Boolean)
}

/** One NAME=value a line; values may hold commas. */
function assignments(input: Input): string[] {
  const lines = core.getMultilineInput(input).map(line => line.trim()).filter(Boolean)
  for (const line of lines) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(line)) {
      throw new InputError(input, `'${line}' is not of the form NAME=value`)
    }
  }
  return lines
}

// [ip:][host:]container[/protocol]; ports and ranges; an IPv6 address in brackets.
const PORT = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):)?(?:(?:\d+(?:-\d+)?)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/

const MAX_PORT = 65535

function ports(): string[] {
  const items = list(Input.Ports)
  for (const item of items) {
    if (!PORT.test(item)) {
      throw new InputError(
        Input.Ports,
        `'${item}' is not [ip:][host:]container[/tcp|udp|sctp] (8080:80, 127.0.0.1:5432:5432, 53:53/udp)`
      )
    }
    if (portNumbers(item).some(port => port > MAX_PORT)) {
      throw new InputError(Input.Ports, `'${item}' names a port above ${MAX_PORT}`)
    }
  }
  return items
}

/** The port numbers of a value PORT accepts: the address and protocol left out. */
function portNumbers(item: string): number[] {
  const ports = item.replace(/\/\w+$/, '').replace(/^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[^\]]*\]):/, '')
  return (ports.match(/\d+/g) ?? []).map(Number)
}

/**
 * Splits raw `docker run` options as a shell would, without running one: quotes
 * group words, `$NAME` stays literal, and operators such as `;` or `|` are refused.
 */
function shellWords(input: Input): string[] {
  const raw = core.getInput(input)
  if (!raw) return []

  const words = parseShellWords(escapeMidWordHashes(raw), name => `$${name}`)
  return words.map(word => {
    // No shell runs, so nothing expands a pattern: `x*y` is the text x*y.
    if (typeof word === 'object' && 'op' in word && word.op === 'glob') return word.pattern
    if (typeof word !== 'string') {
      throw new InputError(input, `'${raw}' holds shell syntax; give plain docker run options only`)
    }
    return word
  })
}

/**
 * A shell starts a comment only with a `#` at the start of a word; the
 * parser would start one anywhere, so a `#` inside a word (`issue=#12`),
 * outside quotes, is escaped first.
 */
function escapeMidWordHashes(raw: string): string {
  let out = ''
  let quote: string | undefined

  for (let i = 0; i < raw.length; i++) {
    const char = raw[i]
    if (char === '\\' && quote !== "'") {
      out += char + (raw[i + 1] ?? '')
      i++
      continue
    }
    if (quote) {
      if (char === quote) quote = undefined
    } else if (char === '"' || char === "'") {
      quote = char
    } else if (char === '#' && i > 0 && !/\s/.test(raw[i - 1])) {
      out += '\\'
    }
    out += char
  }
  return out
}

// The container's cgroups are its own: a mount of the host's tree would undo that.
const CGROUP_TREE = /\/sys\/fs\/cgroup/

// A volume whose driver mounts a kernel file system does so in the engine's namespaces.
const KERNEL_FS_VOLUME = /(?:^|,)"?volume-opt=type=(cgroup2?|proc|sysfs)(?:,|"|$)/

/** True when a `-v` value or a `--mount` value brings the host's cgroup tree in. */
export function mountsCgroupTree(value: string): boolean {
  if (CGROUP_TREE.test(value) || KERNEL_FS_VOLUME.test(value)) return true
  const mountSource = /(?:^|,)(?:source|src)=([^,]*)/.exec(value)?.[1]
  return exposesCgroupTree(mountSource ?? value.split(':')[0])
}

function refuseCgroupTree(input: Input, value: string): void {
  if (mountsCgroupTree(value)) {
    throw new InputError(
      input,
      `'${value}' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; ` +
        'the strategy gives systemd its own'
    )
  }
}

/** One volume a line: Docker's own options after the target hold commas. */
function volumes(): string[] {
  const lines = core.getMultilineInput(Input.Volumes).map(line => line.trim()).filter(Boolean)
  for (const line of lines) {
    refuseCgroupTree(Input.Volumes, line)
    if (!line.includes(':') && !isAbsolute(line)) {
      throw new InputError(Input.Volumes, `'${line}' is neither source:target[:options] nor an absolute path`)
    }
  }
  return lines
}

/** `docker run` options that would undo what the action sets up, and why. */
const RESERVED_OPTIONS: Record<string, string> = {
  '--cgroupns': 'the container always gets a private cgroup namespace',
  '--privileged': "use the input 'strategy: privileged'",
  '--entrypoint': 'systemd must be PID 1',
  '--name': "use the input 'name'",
  '--stop-signal': 'systemd shuts down on SIGRTMIN+3',
  '--rm': 'the post step removes the container after a clean shutdown',
  '--init': 'systemd must be PID 1, not an init the engine adds',
  '--detach': 'the container always runs in the background',
  '-d': 'the container always runs in the background',
  '--pid': 'systemd must be PID 1 of a PID namespace of its own',
  '--user': 'systemd runs as root in the container; use docker exec --user for the rest',
  '-u': 'systemd runs as root in the container; use docker exec --user for the rest'
}

// The short options of `docker create` that take a value: in a cluster such
// as `-itv/src:/dst`, the first of them takes the rest of the word, or the next.
const SHORT_WITH_VALUE = new Set([...'acehlmpuvw'])

/** The options a word names: `--name=x` names --name, the cluster `-itd` names -i, -t and -d. */
function optionsNamed(word: string): string[] {
  if (word.startsWith('--')) return [word.split('=')[0]]
  if (!/^-[A-Za-z]/.test(word)) return []

  const named: string[] = []
  for (const letter of word.slice(1)) {
    named.push(`-${letter}`)
    if (SHORT_WITH_VALUE.has(letter)) break
  }
  return named
}

/** The mount values an option word gives: `--volume X`, `--mount=X`, `-vX`, `-itv X`. */
function mountValues(words: string[], at: number): string[] {
  const word = words[at]
  const long = /^(--volume|--mount)(=(.*))?$/.exec(word)
  if (long) return [long[3] ?? words[at + 1] ?? '']

  const named = optionsNamed(word)
  if (word.startsWith('--') || named.at(-1) !== '-v') return []
  const rest = word.slice(named.length + 1).replace(/^=/, '')
  return [rest || (words[at + 1] ?? '')]
}

function runOptions(): string[] {
  const words = shellWords(Input.Options)
  words.forEach((word, at) => {
    for (const option of optionsNamed(word)) {
      const reason = RESERVED_OPTIONS[option]
      if (reason) throw new InputError(Input.Options, `${option} is not allowed: ${reason}`)
    }
    const capability = /^--cap-add(?:=(.*))?$/.exec(word)
    if (capability && /^(CAP_)?ALL$/i.test(capability[1] ?? words[at + 1] ?? '')) {
      throw new InputError(Input.Options, "--cap-add ALL is not allowed: use the input 'strategy: privileged'")
    }

    if (CGROUP_TREE.test(word)) refuseCgroupTree(Input.Options, word)
    for (const value of mountValues(words, at)) refuseCgroupTree(Input.Options, value)
  })
  return words
}

/** Package names go into the generated Dockerfile: names (with a version or release) only. */
function packages(): string[] {
  const names = list(Input.Packages).flatMap(item => item.split(/\s+/))
  for (const name of names) {
    if (!/^@?[A-Za-z0-9][A-Za-z0-9._+:~=@/-]*$/.test(name)) {
      throw new InputError(
        Input.Packages,
        `'${name}' is not a package name (python3, nginx=1.22.1-9, or a group such as @development-tools)`
      )
    }
  }
  return names
}

function imageReference(): string {
  const reference = core.getInput(Input.Image) || 'debian:bookworm'
  if (!/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(reference)) {
    throw new InputError(Input.Image, `'${reference}' is not an image reference (debian:bookworm, fedora:41, ...)`)
  }
  return reference
}

function daemonConfigPath(): string {
  const path = core.getInput(Input.DaemonConfig) || DEFAULT_DAEMON_CONFIG
  if (!isAbsolute(path)) {
    throw new InputError(Input.DaemonConfig, `'${path}' is not an absolute path (${DEFAULT_DAEMON_CONFIG}, say)`)
  }
  return path
}

function containerName(): string {
  const name = core.getInput(Input.Name)
  if (name && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new InputError(Input.Name, `'${name}' is not a valid container name (letters, digits, _ . -)`)
  }
  return name
}

function imageRequest(): ImageRequest {
  const dockerfile = core.getInput(Input.Dockerfile)
  const context = core.getInput(Input.Context)
  const buildArgs = assignments(Input.BuildArgs)

  if (!dockerfile && (context || buildArgs.length)) {
    const input = context ? Input.Context : Input.BuildArgs
    throw new InputError(input, `applies to your own Dockerfile only; set '${Input.Dockerfile}' too`)
  }
  const extraPackages = packages()
  if (dockerfile && extraPackages.length) {
    throw new InputError(
      Input.Packages,
      `applies to the generated image only; install them in your Dockerfile, or leave '${Input.Dockerfile}' empty`
    )
  }

  return {
    base: imageReference(),
    packages: extraPackages,
    dockerfile: dockerfile || undefined,
    context: context || undefined,
    buildArgs
  }
}
