import { Docker } from './docker.js'
import { NO_SYSTEMD_EXIT, SHIM_PREFIX, UNSUPPORTED_CGROUP_EXIT } from './shim.js'

/** What can be read from a container whose systemd did not come up. */
export interface BootReport {
  /** The container's console: the shim's lines and systemd's boot messages. */
  bootLog: string
  /** `systemctl --failed`, when systemd still answers. */
  failedUnits?: string
  /** The tail of the journal, when systemd still answers. */
  journal?: string
  /** One line naming the cause, where the cause is known. */
  diagnosis?: string
}

interface Cause {
  matches: (bootLog: string, exitCode?: number) => boolean
  diagnosis: string
}

// Ordered from the most specific sign to the most general one.
const CAUSES: Cause[] = [
  {
    matches: (log, code) =>
      code === NO_SYSTEMD_EXIT && log.includes(`${SHIM_PREFIX} no systemd`),
    diagnosis:
      'the image has no systemd: install the systemd package in it, or use an image the action builds'
  },
  {
    matches: (log, code) => code === UNSUPPORTED_CGROUP_EXIT || /refuses cgroup v1/.test(log),
    diagnosis:
      'systemd 258 and later need cgroup v2, and this host has no cgroup2 hierarchy: use an image ' +
      'with an older systemd or a runner on cgroup v2'
  },
  {
    matches: log => /unsupported legacy cgroup hierarchy/i.test(log),
    diagnosis:
      'this systemd refuses cgroup v1 (systemd 258 and later); it needs the cgroup2 hierarchy'
  },
  {
    matches: log => /Failed to create \S+ control group: Read-only file system/.test(log),
    diagnosis:
      "the container's cgroup mount is read-only: systemd needs a writable cgroup subtree " +
      "(strategy 'auto' gives it one; 'writable-cgroups' needs Docker 28)"
  },
  {
    matches: log => /(mount|umount).*(Permission denied|permission denied|not permitted)/i.test(log),
    diagnosis:
      'the entrypoint shim was not allowed to mount the cgroup file system: a security ' +
      "profile (AppArmor or SELinux) refused it; try strategy 'privileged' only if you must"
  }
]

/** Names the cause of a failed boot from the console output, where it is known. */
export function diagnose(bootLog: string, exitCode?: number): string | undefined {
  return CAUSES.find(cause => cause.matches(bootLog, exitCode))?.diagnosis
}

/** Collects the boot log and, when systemd still answers, its failed units and journal. */
export async function collectBootReport(
  docker: Docker,
  containerId: string,
  exitCode?: number
): Promise<BootReport> {
  const logs = await docker.call(['logs', '--tail', '300', containerId])
  const bootLog = stripTerminalCodes(logs.stdout + logs.stderr)
  const report: BootReport = { bootLog, diagnosis: diagnose(bootLog, exitCode) }

  const failed = await docker.exec(containerId, ['systemctl', '--failed', '--no-pager'])
  if (failed.exitCode === 0) {
    report.failedUnits = failed.stdout
    report.journal = await journal(docker, containerId, 100)
  }
  return report
}

/** The last `lines` lines of the container's journal, or an empty string. */
export async function journal(docker: Docker, containerId: string, lines?: number): Promise<string> {
  const args = ['journalctl', '--no-pager', '--boot']
  if (lines) args.push('--lines', String(lines))
  const result = await docker.exec(containerId, args)
  return result.exitCode === 0 ? result.stdout : ''
}

/** Drops the colour and cursor codes systemd writes to its terminal. */
export function stripTerminalCodes(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '')
}
