import { CgroupLayout, HostProbe } from './host-probe.js'
import { CgroupSetup } from './shim.js'

/** The ways to run systemd, from the least privilege to the most. */
export const STRATEGIES = ['writable-cgroups', 'sys-admin', 'privileged'] as const
export type StrategyName = (typeof STRATEGIES)[number]

/** A strategy asked for by the user: `auto` lets the probe decide. */
export type RequestedStrategy = StrategyName | 'auto'

/** How the container will be run, and why. */
export interface Strategy {
  name: StrategyName
  /** `docker run` arguments that grant what systemd needs. */
  runArgs: string[]
  /** What the entrypoint shim does before it starts systemd. */
  cgroupSetup: CgroupSetup
  /** One line for the log: what was detected and what was chosen because of it. */
  reason: string
}

/** A strategy that cannot work on this host. */
export class StrategyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StrategyError'
  }
}

/** Picks the strategy with the least privilege that boots systemd on this host. */
export function chooseStrategy(probe: HostProbe, requested: RequestedStrategy): Strategy {
  const name = requested === 'auto' ? autoStrategy(probe) : requested

  if (name === 'writable-cgroups' && !probe.writableCgroups) {
    throw new StrategyError(
      `strategy 'writable-cgroups' needs cgroup v2 and Docker 28.0 or later, but this engine ` +
        `is ${probe.engine.version} on cgroup ${probe.cgroupLayout}; use 'auto' or 'sys-admin'`
    )
  }

  const strategy = build(name, probe)
  const chosenBy = requested === 'auto' ? '' : ' (asked for)'
  return { ...strategy, reason: `${hostSummary(probe)}: ${strategy.reason}${chosenBy}` }
}

function autoStrategy(probe: HostProbe): StrategyName {
  return probe.writableCgroups ? 'writable-cgroups' : 'sys-admin'
}

function build(name: StrategyName, probe: HostProbe): Strategy {
  const privateNamespace = ['--cgroupns=private']

  switch (name) {
    case 'writable-cgroups':
      return {
        name,
        runArgs: [...privateNamespace, '--security-opt', 'writable-cgroups=true'],
        cgroupSetup: 'none',
        reason: 'writable cgroups in a private cgroup namespace, no extra capability'
      }

    case 'sys-admin': {
      const apparmor = probe.engine.apparmor ? ['--security-opt', 'apparmor=unconfined'] : []
      const cgroupSetup = sysAdminSetup(probe.cgroupLayout)
      const unconfined = apparmor.length ? ', AppArmor unconfined so the shim may mount' : ''
      return {
        name,
        runArgs: [...privateNamespace, '--cap-add', 'SYS_ADMIN', ...apparmor],
        cgroupSetup,
        reason: `CAP_SYS_ADMIN in a private cgroup namespace${unconfined}; ${SETUP_WORDS[cgroupSetup]}`
      }
    }

    case 'privileged':
      return {
        name,
        runArgs: ['--privileged', ...privateNamespace],
        cgroupSetup: probe.cgroupLayout === 'v2' ? 'none' : sysAdminSetup(probe.cgroupLayout),
        reason: 'privileged container (every capability, no confinement) in a private cgroup namespace'
      }
  }
}

function sysAdminSetup(layout: CgroupLayout): CgroupSetup {
  if (layout === 'v2') return 'remount-v2'
  return layout === 'hybrid' ? 'unified' : 'remount-v1'
}

const SETUP_WORDS: Record<CgroupSetup, string> = {
  none: 'cgroup mount left as the engine makes it',
  'remount-v2': "the container's cgroup2 mount is remounted read-write",
  unified: "the v1 mounts are replaced by the container's own cgroup2 subtree (kept, where the engine gives it none)",
  'remount-v1': "the container's v1 mounts are remounted read-write"
}

function hostSummary(probe: HostProbe): string {
  return `cgroup ${probe.cgroupLayout}, engine ${probe.engine.version}`
}
