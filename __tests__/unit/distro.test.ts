import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'

import {
  DistroError,
  generateDockerfile,
  KNOWN_TOOLS,
  MASKED_UNITS,
  OsRelease,
  PackageManager,
  packageManagerFor,
  parseOsRelease
} from '../../src/core/distro.js'

/** /etc/os-release of an official image, from fixtures/os-release/. */
function osRelease(name: string): string {
  return readFileSync(new URL(`./fixtures/os-release/${name}`, import.meta.url), 'utf8')
}

function facts(name: string, tools: string[]) {
  return { os: parseOsRelease(osRelease(name)), tools }
}

/** The error packageManagerFor throws, or a failure when it throws none. */
function distroError(run: () => unknown): DistroError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(DistroError)
    return error as DistroError
  }
  throw new Error('expected a DistroError')
}

describe('parseOsRelease on the files official images ship', () => {
  const samples: [string, OsRelease][] = [
    ['debian-bullseye', { id: 'debian', idLike: [], versionId: '11', prettyName: 'Debian GNU/Linux 11 (bullseye)' }],
    ['debian-bookworm', { id: 'debian', idLike: [], versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' }],
    ['debian-trixie', { id: 'debian', idLike: [], versionId: '13', prettyName: 'Debian GNU/Linux 13 (trixie)' }],
    ['debian-sid', { id: 'debian', idLike: [], versionId: '', prettyName: 'Debian GNU/Linux forky/sid' }],
    ['ubuntu-22.04', { id: 'ubuntu', idLike: ['debian'], versionId: '22.04', prettyName: 'Ubuntu 22.04.5 LTS' }],
    ['ubuntu-24.04', { id: 'ubuntu', idLike: ['debian'], versionId: '24.04', prettyName: 'Ubuntu 24.04.3 LTS' }],
    ['fedora-41', { id: 'fedora', idLike: [], versionId: '41', prettyName: 'Fedora Linux 41 (Container Image)' }],
    ['centos-stream-9', { id: 'centos', idLike: ['rhel', 'fedora'], versionId: '9', prettyName: 'CentOS Stream 9' }],
    [
      'rocky-9',
      { id: 'rocky', idLike: ['rhel', 'centos', 'fedora'], versionId: '9.5', prettyName: 'Rocky Linux 9.5 (Blue Onyx)' }
    ],
    [
      'almalinux-9',
      {
        id: 'almalinux',
        idLike: ['rhel', 'centos', 'fedora'],
        versionId: '9.5',
        prettyName: 'AlmaLinux 9.5 (Teal Serval)'
      }
    ],
    ['oracle-linux-9', { id: 'ol', idLike: ['fedora'], versionId: '9.5', prettyName: 'Oracle Linux Server 9.5' }],
    [
      'amazon-linux-2023',
      { id: 'amzn', idLike: ['fedora'], versionId: '2023', prettyName: 'Amazon Linux 2023.6.20241212' }
    ],
    [
      'amazon-linux-2',
      { id: 'amzn', idLike: ['centos', 'rhel', 'fedora'], versionId: '2', prettyName: 'Amazon Linux 2' }
    ],
    [
      'rhel-ubi-9',
      { id: 'rhel', idLike: ['fedora'], versionId: '9.5', prettyName: 'Red Hat Enterprise Linux 9.5 (Plow)' }
    ],
    [
      'opensuse-leap-15.6',
      { id: 'opensuse-leap', idLike: ['suse', 'opensuse'], versionId: '15.6', prettyName: 'openSUSE Leap 15.6' }
    ],
    [
      'opensuse-tumbleweed',
      {
        id: 'opensuse-tumbleweed',
        idLike: ['opensuse', 'suse'],
        versionId: '20250109',
        prettyName: 'openSUSE Tumbleweed'
      }
    ],
    ['archlinux', { id: 'arch', idLike: [], versionId: '', prettyName: 'Arch Linux' }],
    ['alpine-3.21', { id: 'alpine', idLike: [], versionId: '3.21.2', prettyName: 'Alpine Linux v3.21' }],
    ['gentoo', { id: 'gentoo', idLike: [], versionId: '2.17', prettyName: 'Gentoo Linux' }]
  ]

  it.each(samples)('reads %s', (name, expected) => {
    expect(parseOsRelease(osRelease(name))).toEqual(expected)
  })
})

describe('parseOsRelease', () => {
  it('takes values in double quotes, single quotes or none', () => {
    expect(parseOsRelease('ID="fedora"\nVERSION_ID=\'41\'\nPRETTY_NAME=Fedora')).toEqual({
      id: 'fedora',
      idLike: [],
      versionId: '41',
      prettyName: 'Fedora'
    })
  })

  it('keeps spaces and other quotes inside a quoted value', () => {
    expect(parseOsRelease('PRETTY_NAME="Example\'s Linux 1.0 (Dev Edition)"').prettyName).toBe(
      "Example's Linux 1.0 (Dev Edition)"
    )
    expect(parseOsRelease('PRETTY_NAME=\'An "Example" Linux\'').prettyName).toBe('An "Example" Linux')
  })

  it('unescapes backslash escapes shell style', () => {
    const os = parseOsRelease(String.raw`PRETTY_NAME="A \"quoted\" \$name \`tick\` and a \\ backslash"`)
    expect(os.prettyName).toBe('A "quoted" $name `tick` and a \\ backslash')
    expect(parseOsRelease(String.raw`NAME="ends in a backslash\\"`).prettyName).toBe('ends in a backslash\\')
    expect(parseOsRelease(String.raw`NAME=Escaped\ space`).prettyName).toBe('Escaped space')
  })

  it('does not take a value for quoted when only one end has a quote', () => {
    expect(parseOsRelease('NAME="Half').prettyName).toBe('"Half')
    expect(parseOsRelease('NAME="Mixed\'').prettyName).toBe('"Mixed\'')
  })

  it('splits ID_LIKE on any whitespace, lower-cased', () => {
    expect(parseOsRelease('ID=rocky\nID_LIKE="rhel centos fedora"').idLike).toEqual(['rhel', 'centos', 'fedora'])
    expect(parseOsRelease('ID=x\nID_LIKE="  RHEL\tFedora  "').idLike).toEqual(['rhel', 'fedora'])
    expect(parseOsRelease('ID=ubuntu\nID_LIKE=debian').idLike).toEqual(['debian'])
    expect(parseOsRelease('ID=x\nID_LIKE=""').idLike).toEqual([])
  })

  it('lower-cases ID', () => {
    expect(parseOsRelease('ID=Debian').id).toBe('debian')
  })

  it('reads CRLF files, indented lines, blank lines and skips comments', () => {
    const os = parseOsRelease('# a comment\r\n\r\n  ID=arch\r\n#ID=gentoo\r\nPRETTY_NAME="Arch Linux"  \r\n')
    expect(os).toEqual({ id: 'arch', idLike: [], versionId: '', prettyName: 'Arch Linux' })
  })

  it('skips lines that are not KEY=value', () => {
    const os = parseOsRelease('garbage\nexport ID=alpine\nid=alpine\nID = alpine\nID=debian')
    expect(os.id).toBe('debian')
  })

  it('lets a later assignment win', () => {
    expect(parseOsRelease('ID=debian\nID=ubuntu').id).toBe('ubuntu')
  })

  it('fills missing fields', () => {
    expect(parseOsRelease('')).toEqual({ id: '', idLike: [], versionId: '', prettyName: 'unknown' })
    expect(parseOsRelease('ID=gentoo').prettyName).toBe('gentoo')
    expect(parseOsRelease('ID=gentoo\nNAME=Gentoo').prettyName).toBe('Gentoo')
    expect(parseOsRelease('ID=gentoo\nNAME=Gentoo\nPRETTY_NAME="Gentoo Linux"').prettyName).toBe('Gentoo Linux')
    expect(parseOsRelease('NAME=Gentoo')).toEqual({ id: '', idLike: [], versionId: '', prettyName: 'Gentoo' })
  })

  it('reads an empty quoted value as empty', () => {
    expect(parseOsRelease('ID=fedora\nVERSION_ID=""').versionId).toBe('')
  })
})

describe('packageManagerFor', () => {
  // The package managers each official image really has (commands the look inside reports).
  const images: [string, string, string[], PackageManager][] = [
    ['debian:bullseye', 'debian-bullseye', ['apt-get'], 'apt'],
    ['debian:bookworm', 'debian-bookworm', ['apt-get'], 'apt'],
    ['debian:trixie', 'debian-trixie', ['apt-get'], 'apt'],
    ['debian:sid', 'debian-sid', ['apt-get'], 'apt'],
    ['ubuntu:22.04', 'ubuntu-22.04', ['apt-get'], 'apt'],
    ['ubuntu:24.04', 'ubuntu-24.04', ['apt-get'], 'apt'],
    ['fedora:41', 'fedora-41', ['dnf', 'yum'], 'dnf'],
    ['quay.io/centos/centos:stream9', 'centos-stream-9', ['dnf', 'yum'], 'dnf'],
    ['rockylinux:9', 'rocky-9', ['dnf', 'yum'], 'dnf'],
    ['rockylinux:9-minimal', 'rocky-9', ['microdnf'], 'microdnf'],
    ['almalinux:9', 'almalinux-9', ['dnf', 'yum'], 'dnf'],
    ['almalinux:9-minimal', 'almalinux-9', ['microdnf'], 'microdnf'],
    ['oraclelinux:9', 'oracle-linux-9', ['dnf', 'yum'], 'dnf'],
    ['oraclelinux:9-slim', 'oracle-linux-9', ['microdnf'], 'microdnf'],
    ['amazonlinux:2023', 'amazon-linux-2023', ['dnf', 'yum'], 'dnf'],
    ['amazonlinux:2', 'amazon-linux-2', ['yum'], 'yum'],
    ['ubi9/ubi', 'rhel-ubi-9', ['dnf', 'yum'], 'dnf'],
    ['ubi9/ubi-minimal', 'rhel-ubi-9', ['microdnf'], 'microdnf'],
    ['opensuse/leap:15.6', 'opensuse-leap-15.6', ['zypper'], 'zypper'],
    ['opensuse/tumbleweed', 'opensuse-tumbleweed', ['zypper'], 'zypper'],
    ['archlinux', 'archlinux', ['pacman'], 'pacman']
  ]

  it.each(images)('installs into %s (%s, has %j) with %s', (_image, name, tools, manager) => {
    expect(packageManagerFor(facts(name, tools))).toBe(manager)
  })

  it('only checks for commands it can name in the look inside', () => {
    for (const [, , tools] of images) {
      for (const tool of tools) expect(KNOWN_TOOLS).toContain(tool)
    }
  })

  it('prefers dnf, then microdnf, then yum whatever order the tools were found in', () => {
    expect(packageManagerFor(facts('centos-stream-9', ['yum', 'microdnf', 'dnf']))).toBe('dnf')
    expect(packageManagerFor(facts('rhel-ubi-9', ['yum', 'microdnf']))).toBe('microdnf')
  })

  it('goes by ID_LIKE for a derivative it has no entry for', () => {
    const mint = parseOsRelease('NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\nPRETTY_NAME="Linux Mint 22"')
    expect(packageManagerFor({ os: mint, tools: ['apt-get'] })).toBe('apt')
    const manjaro = parseOsRelease('NAME="Manjaro Linux"\nID=manjaro\nID_LIKE=arch\nPRETTY_NAME="Manjaro Linux"')
    expect(packageManagerFor({ os: manjaro, tools: ['pacman'] })).toBe('pacman')
    const sles = parseOsRelease('NAME="SLES"\nID="sles"\nID_LIKE="suse"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP6"')
    expect(packageManagerFor({ os: sles, tools: ['zypper'] })).toBe('zypper')
  })

  it("uses only the family's own package manager", () => {
    expect(packageManagerFor(facts('opensuse-tumbleweed', ['dnf', 'zypper']))).toBe('zypper')
    const error = distroError(() => packageManagerFor(facts('opensuse-tumbleweed', ['dnf'])))
    expect(error.message).toContain('openSUSE Tumbleweed has none of zypper')
  })

  it("names the distribution and suggests 'dockerfile' when the image has no package manager (UBI micro)", () => {
    const error = distroError(() => packageManagerFor(facts('rhel-ubi-9', [])))
    expect(error.name).toBe('DistroError')
    expect(error.message).toContain('Red Hat Enterprise Linux 9.5 (Plow)')
    expect(error.message).toContain('dnf, microdnf, yum')
    expect(error.message).toContain("'dockerfile'")
  })

  it("names the distribution and suggests 'dockerfile' for a Debian image without apt-get", () => {
    const error = distroError(() => packageManagerFor(facts('debian-bookworm', [])))
    expect(error.message).toContain('Debian GNU/Linux 12 (bookworm) has none of apt-get')
    expect(error.message).toContain("'dockerfile'")
  })

  it.each([
    ['alpine-3.21', 'Alpine Linux v3.21', 'ID=alpine'],
    ['gentoo', 'Gentoo Linux', 'ID=gentoo']
  ])('names %s, an unknown distribution, and the known families', (name, prettyName, id) => {
    const error = distroError(() => packageManagerFor(facts(name, [])))
    expect(error.message).toContain(prettyName)
    expect(error.message).toContain(id)
    for (const family of ['Debian/Ubuntu', 'Fedora/RHEL', 'openSUSE', 'Arch']) {
      expect(error.message).toContain(family)
    }
    expect(error.message).toContain("'dockerfile'")
  })

  it('does not take an unknown distribution for a known one because it has a known tool', () => {
    expect(() => packageManagerFor(facts('alpine-3.21', ['apt-get']))).toThrow(DistroError)
  })

  it('says so when the image has no os-release at all', () => {
    const error = distroError(() => packageManagerFor({ os: parseOsRelease(''), tools: ['apt-get'] }))
    expect(error.message).toContain('unknown (ID=none)')
  })
})

/** Every Dockerfile instruction, continuation lines joined. */
function instructions(dockerfile: string): string[] {
  return dockerfile
    .replace(/\\\n/g, '')
    .split('\n')
    .filter(line => line.trim() !== '')
}

/** The install part of the RUN instruction: everything before the masking. */
function installRun(dockerfile: string): string {
  const run = instructions(dockerfile).find(line => line.startsWith('RUN '))
  if (!run) throw new Error(`no RUN in:\n${dockerfile}`)
  return run.split(' && for unit in ')[0].trimEnd()
}

const COMMANDS: Record<PackageManager, string> = {
  apt: 'apt-get',
  dnf: 'dnf',
  microdnf: 'microdnf',
  yum: 'yum',
  zypper: 'zypper',
  pacman: 'pacman'
}

/** The packages the install command names (its arguments that are not options). */
function installed(dockerfile: string, manager: PackageManager): string[] {
  const command = installRun(dockerfile)
    .slice('RUN '.length)
    .split(' && ')
    .find(step => step.startsWith(`${COMMANDS[manager]} `) && / (install|-S\w*) /.test(step))
  if (!command) throw new Error(`no ${manager} install in:\n${dockerfile}`)
  return command
    .split(/\s+/)
    .slice(1)
    .filter(word => word !== 'install' && !word.startsWith('-'))
}

/** The paths the masking RUN links to /dev/null. */
function masked(dockerfile: string): string[] {
  const run = instructions(dockerfile).find(line => line.includes('ln -sf /dev/null'))
  const list = run ? /for unit in (.*?); do ln -sf \/dev\/null "\$unit"; done/.exec(run) : null
  if (!list) throw new Error(`no masking loop in:\n${dockerfile}`)
  return list[1].split(/\s+/)
}

describe('generateDockerfile', () => {
  const cases: {
    manager: PackageManager
    base: string
    systemd: string[]
    nonInteractive: RegExp
    cleanup: RegExp
    init: string
  }[] = [
    {
      manager: 'apt',
      base: 'debian:bookworm',
      systemd: ['systemd', 'systemd-sysv', 'dbus'],
      nonInteractive: /DEBIAN_FRONTEND=noninteractive .*apt-get install -y /,
      cleanup: /apt-get clean && rm -rf \/var\/lib\/apt\/lists\/\*$/,
      init: '/lib/systemd/systemd'
    },
    {
      manager: 'dnf',
      base: 'fedora:41',
      systemd: ['systemd', 'procps-ng'],
      nonInteractive: /dnf -y install /,
      cleanup: / && dnf clean all$/,
      init: '/usr/lib/systemd/systemd'
    },
    {
      manager: 'microdnf',
      base: 'registry.access.redhat.com/ubi9/ubi-minimal:9.5',
      systemd: ['systemd', 'procps-ng'],
      nonInteractive: /microdnf -y install /,
      cleanup: / && microdnf clean all$/,
      init: '/usr/lib/systemd/systemd'
    },
    {
      manager: 'yum',
      base: 'amazonlinux:2',
      systemd: ['systemd', 'procps-ng'],
      nonInteractive: /yum -y install /,
      cleanup: / && yum clean all$/,
      init: '/usr/lib/systemd/systemd'
    },
    {
      manager: 'zypper',
      base: 'registry.opensuse.org/opensuse/leap:15.6',
      systemd: ['systemd', 'dbus-1', 'procps'],
      nonInteractive: /zypper --non-interactive install /,
      cleanup: / && zypper clean --all$/,
      init: '/usr/lib/systemd/systemd'
    },
    {
      manager: 'pacman',
      base: 'archlinux:latest',
      systemd: ['systemd', 'procps-ng'],
      nonInteractive: /pacman -S\w* --noconfirm /,
      cleanup: / && rm -rf \/var\/cache\/pacman\/pkg\/\*/,
      init: '/usr/lib/systemd/systemd'
    }
  ]

  describe.each(cases)('with $manager', ({ manager, base, systemd, nonInteractive, cleanup, init }) => {
    const plain = generateDockerfile(base, manager)
    const withPackages = generateDockerfile(base, manager, ['vim', 'openssh-server'])

    it('starts FROM the base', () => {
      expect(instructions(plain)[0]).toBe(`FROM ${base}`)
      expect(plain.split('\n').filter(line => line.startsWith('FROM '))).toHaveLength(1)
    })

    it("installs systemd and the family's packages without asking", () => {
      expect(installed(plain, manager)).toEqual(systemd)
      expect(installRun(plain)).toMatch(nonInteractive)
    })

    it('appends the user packages after them', () => {
      expect(installed(withPackages, manager)).toEqual([...systemd, 'vim', 'openssh-server'])
    })

    it('names every package once', () => {
      const dockerfile = generateDockerfile(base, manager, ['vim', systemd[0], 'vim', systemd[systemd.length - 1], 'curl'])
      expect(installed(dockerfile, manager)).toEqual([...systemd, 'vim', 'curl'])
    })

    it('cleans the package cache in the same layer', () => {
      expect(installRun(plain)).toMatch(cleanup)
      expect(installRun(withPackages)).toMatch(cleanup)
    })

    it('masks every unit that cannot work in a container, and nothing else', () => {
      expect(masked(plain)).toEqual(MASKED_UNITS.map(unit => `/etc/systemd/system/${unit}`))
    })

    it('leaves the journal alone', () => {
      expect(masked(plain).filter(path => /journal/.test(path))).toEqual([])
      expect(plain).not.toMatch(/journald/)
    })

    it('empties machine-id so that each boot makes its own', () => {
      expect(plain).toContain('rm -f /etc/machine-id /var/lib/dbus/machine-id && touch /etc/machine-id')
    })

    it("leaves no D-Bus machine ID for systemd to copy at boot, only a link to systemd's", () => {
      expect(plain).toContain('ln -s /etc/machine-id /var/lib/dbus/machine-id')
      expect(plain.indexOf('rm -f /etc/machine-id /var/lib/dbus/machine-id')).toBeLessThan(
        plain.indexOf('ln -s /etc/machine-id /var/lib/dbus/machine-id')
      )
    })

    it('tells systemd it runs in a container', () => {
      expect(instructions(plain)).toContain('ENV container=docker')
    })

    it('stops with SIGRTMIN+3 and runs systemd as PID 1', () => {
      const lines = instructions(plain)
      expect(lines).toContain('STOPSIGNAL SIGRTMIN+3')
      expect(lines[lines.length - 1]).toBe(`CMD ["${init}"]`)
    })

    it('is the same text for the same arguments', () => {
      expect(generateDockerfile(base, manager, ['vim', 'openssh-server'])).toBe(withPackages)
    })
  })

  it('keeps the user packages in the order given', () => {
    expect(installed(generateDockerfile('debian:bookworm', 'apt', ['zsh', 'curl', 'ansible']), 'apt')).toEqual([
      'systemd',
      'systemd-sysv',
      'dbus',
      'zsh',
      'curl',
      'ansible'
    ])
  })

  it('takes the base reference as given, registry, port and digest included', () => {
    const base = 'registry.example.com:5000/team/img@sha256:' + 'a'.repeat(64)
    expect(generateDockerfile(base, 'dnf').split('\n')[0]).toBe(`FROM ${base}`)
  })

  it('ends with a newline', () => {
    expect(generateDockerfile('debian:bookworm', 'apt').endsWith('\n')).toBe(true)
  })

  it('has no unit of the journal among MASKED_UNITS', () => {
    expect(MASKED_UNITS.filter(unit => unit.startsWith('systemd-journald'))).toEqual([])
    expect(new Set(MASKED_UNITS).size).toBe(MASKED_UNITS.length)
  })

  // pacman's --noconfirm takes each prompt's default answer, and "remove ALL
  // files from cache?" defaults to No: `pacman -Scc --noconfirm` leaves every
  // downloaded package in /var/cache/pacman/pkg.
  it('really empties the pacman package cache', () => {
    const run = installRun(generateDockerfile('archlinux:latest', 'pacman'))
    expect(run).toMatch(/yes \| pacman -Scc|rm -rf \/var\/cache\/pacman\/pkg/)
  })
})
