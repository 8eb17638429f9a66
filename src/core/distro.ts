/**
 * Distribution families and how each installs systemd. The family is learnt
 * from the base image's /etc/os-release and the package managers it has,
 * never from the image's name.
 */

/** The package manager a systemd image is built with. */
export type PackageManager = 'apt' | 'dnf' | 'microdnf' | 'yum' | 'zypper' | 'pacman'

/** The fields of /etc/os-release the action reads. */
export interface OsRelease {
  id: string
  idLike: string[]
  versionId: string
  prettyName: string
}

/** What a look inside the base image found. */
export interface BaseFacts {
  os: OsRelease
  /** Package managers present in the image, by command name. */
  tools: string[]
}

/** A base image the action does not know how to give systemd. */
export class DistroError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DistroError'
  }
}

interface Recipe {
  /** Installs systemd and the extra packages, then cleans the package cache. */
  install(packages: string[]): string
  /** Packages that make a container boot with systemd. */
  systemd: string[]
  /** Where this family puts PID 1. */
  systemdPath: string
}

const RECIPES: Record<PackageManager, Recipe> = {
  apt: {
    systemd: ['systemd', 'systemd-sysv', 'dbus'],
    systemdPath: '/lib/systemd/systemd',
    install: packages =>
      'export DEBIAN_FRONTEND=noninteractive && apt-get update' +
      ` && apt-get install -y --no-install-recommends ${packages.join(' ')}` +
      ' && apt-get clean && rm -rf /var/lib/apt/lists/*'
  },
  dnf: {
    systemd: ['systemd', 'procps-ng'],
    systemdPath: '/usr/lib/systemd/systemd',
    install: packages =>
      `dnf -y install --setopt=install_weak_deps=False ${packages.join(' ')} && dnf clean all`
  },
  microdnf: {
    systemd: ['systemd', 'procps-ng'],
    systemdPath: '/usr/lib/systemd/systemd',
    install: packages =>
      `microdnf -y install --nodocs ${packages.join(' ')} && microdnf clean all`
  },
  yum: {
    systemd: ['systemd', 'procps-ng'],
    systemdPath: '/usr/lib/systemd/systemd',
    install: packages => `yum -y install ${packages.join(' ')} && yum clean all`
  },
  zypper: {
    systemd: ['systemd', 'dbus-1', 'procps'],
    systemdPath: '/usr/lib/systemd/systemd',
    install: packages =>
      `zypper --non-interactive install --no-recommends ${packages.join(' ')} && zypper clean --all`
  },
  pacman: {
    systemd: ['systemd', 'procps-ng'],
    systemdPath: '/usr/lib/systemd/systemd',
    install: packages =>
      // pacman -Scc answers its own "remove all?" prompt with No under --noconfirm.
      `pacman -Syu --noconfirm --needed ${packages.join(' ')} && rm -rf /var/cache/pacman/pkg/*`
  }
}

/** Families by the IDs os-release gives in ID and ID_LIKE, with their package managers in order of preference. */
const FAMILIES: { ids: string[]; managers: PackageManager[] }[] = [
  { ids: ['debian', 'ubuntu'], managers: ['apt'] },
  {
    ids: ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'],
    managers: ['dnf', 'microdnf', 'yum']
  },
  { ids: ['suse', 'opensuse', 'sles', 'opensuse-leap', 'opensuse-tumbleweed'], managers: ['zypper'] },
  { ids: ['arch', 'archlinux'], managers: ['pacman'] }
]

const TOOL_COMMANDS: Record<PackageManager, string> = {
  apt: 'apt-get',
  dnf: 'dnf',
  microdnf: 'microdnf',
  yum: 'yum',
  zypper: 'zypper',
  pacman: 'pacman'
}

/** The commands a look inside the base image checks for. */
export const KNOWN_TOOLS = Object.values(TOOL_COMMANDS)

/**
 * Units that cannot work in a container: they manage hardware, consoles, the
 * kernel or the root file system, which belong to the host.
 */
export const MASKED_UNITS = [
  'systemd-udevd.service',
  'systemd-udevd-control.socket',
  'systemd-udevd-kernel.socket',
  'systemd-udev-trigger.service',
  'systemd-udev-settle.service',
  'getty@tty1.service',
  'console-getty.service',
  'serial-getty@.service',
  'systemd-firstboot.service',
  'systemd-remount-fs.service',
  'systemd-modules-load.service',
  'sys-kernel-config.mount',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-fs-fuse-connections.mount',
  'proc-sys-fs-binfmt_misc.automount'
]

/** Reads /etc/os-release (shell-style KEY=value lines, values maybe quoted). */
export function parseOsRelease(text: string): OsRelease {
  const fields: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim())
    if (match) fields[match[1]] = match[2].replace(/^(["'])(.*)\1$/, '$2').replace(/\\(.)/g, '$1')
  }
  return {
    id: (fields.ID ?? '').toLowerCase(),
    idLike: (fields.ID_LIKE ?? '').toLowerCase().split(/\s+/).filter(Boolean),
    versionId: fields.VERSION_ID ?? '',
    prettyName: fields.PRETTY_NAME ?? fields.NAME ?? fields.ID ?? 'unknown'
  }
}

/** Picks the package manager for a base image from its os-release and the tools it has. */
export function packageManagerFor(facts: BaseFacts): PackageManager {
  const ids = [facts.os.id, ...facts.os.idLike]
  const family = FAMILIES.find(candidate => ids.some(id => candidate.ids.includes(id)))
  if (!family) {
    throw new DistroError(
      `${facts.os.prettyName} (ID=${facts.os.id || 'none'}) is not a distribution the action knows; ` +
        "known families: Debian/Ubuntu, Fedora/RHEL, openSUSE, Arch. Give your own 'dockerfile' instead"
    )
  }

  const manager = family.managers.find(candidate => facts.tools.includes(TOOL_COMMANDS[candidate]))
  if (!manager) {
    throw new DistroError(
      `${facts.os.prettyName} has none of ${family.managers.map(m => TOOL_COMMANDS[m]).join(', ')}, ` +
        "so systemd cannot be installed in it; give your own 'dockerfile' instead"
    )
  }
  return manager
}

/** The Dockerfile that turns `base` into a systemd image with `packages` added. */
export function generateDockerfile(base: string, manager: PackageManager, packages: string[] = []): string {
  const recipe = RECIPES[manager]
  const install = [...new Set([...recipe.systemd, ...packages])]
  const mask = MASKED_UNITS.map(unit => `/etc/systemd/system/${unit}`).join(' ')

  return [
    `FROM ${base}`,
    'ENV container=docker',
    // One layer: fewer layers load faster from the cache.
    `RUN ${recipe.install(install)} \\`,
    // Masked by a link to /dev/null: works for units the image does not have too.
    ` && for unit in ${mask}; do ln -sf /dev/null "$unit"; done \\`,
    // An empty machine-id makes systemd generate a fresh one at every boot. D-Bus's
    // own copy must go too: systemd takes an ID from it when /etc/machine-id is
    // empty, so every container of the image would share one. The link lets D-Bus
    // read the ID that systemd writes at boot.
    ' && rm -f /etc/machine-id /var/lib/dbus/machine-id && touch /etc/machine-id \\',
    ' && if [ -d /var/lib/dbus ]; then ln -s /etc/machine-id /var/lib/dbus/machine-id; fi',
    'STOPSIGNAL SIGRTMIN+3',
    `CMD ["${recipe.systemdPath}"]`,
    ''
  ].join('\n')
}
