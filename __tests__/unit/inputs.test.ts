import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'

import { Input } from '../../src/action/constants.js'
import { InputError, Inputs, readInputs } from '../../src/action/inputs.js'

/** The variable @actions/core reads an input from: upper case, spaces to _, hyphens kept. */
function variable(input: Input): string {
  return `INPUT_${input.replace(/ /g, '_').toUpperCase()}`
}

let saved: NodeJS.ProcessEnv

beforeEach(() => {
  saved = { ...process.env }
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('INPUT_')) delete process.env[name]
  }
})

afterEach(() => {
  for (const name of Object.keys(process.env)) {
    if (!(name in saved)) delete process.env[name]
  }
  Object.assign(process.env, saved)
})

function read(given: Partial<Record<Input, string>> = {}): Inputs {
  for (const [input, value] of Object.entries(given)) process.env[variable(input as Input)] = value
  return readInputs()
}

/** The error readInputs throws for these inputs. */
function refusal(given: Partial<Record<Input, string>>): InputError {
  try {
    read(given)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return error as InputError
  }
  throw new Error(`readInputs accepted ${JSON.stringify(given)}`)
}

describe('readInputs', () => {
  it('reads the variables @actions/core reads, hyphens kept', () => {
    expect(variable(Input.BootTimeout)).toBe('INPUT_BOOT-TIMEOUT')
    process.env['INPUT_BOOT-TIMEOUT'] = '45'
    expect(readInputs().bootTimeout).toBe(45)
  })

  it('falls back to the defaults when nothing is set', () => {
    expect(read()).toEqual({
      image: { base: 'debian:bookworm', packages: [], dockerfile: undefined, context: undefined, buildArgs: [] },
      cache: true,
      strategy: 'auto',
      bootTimeout: 120,
      failOnDegraded: false,
      mountWorkspace: true,
      volumes: [],
      env: [],
      ports: [],
      options: [],
      name: '',
      keepContainer: false,
      showJournal: 'on-failure',
      stopTimeout: 30,
      cgroupParent: '',
      daemonConfig: '/etc/docker/daemon.json',
      restoreDaemon: true
    })
  })

  it('takes the values given', () => {
    const inputs = read({
      [Input.Image]: 'fedora:40',
      [Input.Strategy]: 'privileged',
      [Input.BootTimeout]: '2.5',
      [Input.Cache]: 'FALSE',
      [Input.MountWorkspace]: 'false',
      [Input.FailOnDegraded]: 'True',
      [Input.ShowJournal]: 'always',
      [Input.StopTimeout]: '5',
      [Input.CgroupParent]: 'docker.slice',
      [Input.DaemonConfig]: '/etc/docker/other.json',
      [Input.RestoreDaemon]: 'false',
      [Input.Name]: 'my_box-1.test'
    })
    expect(inputs).toMatchObject({
      image: { base: 'fedora:40' },
      strategy: 'privileged',
      bootTimeout: 2.5,
      cache: false,
      mountWorkspace: false,
      failOnDegraded: true,
      showJournal: 'always',
      stopTimeout: 5,
      cgroupParent: 'docker.slice',
      daemonConfig: '/etc/docker/other.json',
      restoreDaemon: false,
      name: 'my_box-1.test'
    })
  })

  describe('lists', () => {
    it('splits volumes by line only (Docker options hold commas), ports by line and comma', () => {
      const inputs = read({
        [Input.Volumes]: '/srv:/srv:ro,z\n/data:/data\n\n  /cache:/cache  \n',
        [Input.Ports]: '8080:80,\n443:443 ,, 9000:9000'
      })
      expect(inputs.volumes).toEqual(['/srv:/srv:ro,z', '/data:/data', '/cache:/cache'])
      expect(inputs.ports).toEqual(['8080:80', '443:443', '9000:9000'])
    })

    it('splits env by line only, so that values keep their commas', () => {
      const inputs = read({ [Input.Env]: 'HOSTS=a,b,c\n\n  LANG=C.UTF-8  \nEMPTY=\n_X=1 2' })
      expect(inputs.env).toEqual(['HOSTS=a,b,c', 'LANG=C.UTF-8', 'EMPTY=', '_X=1 2'])
    })

    it('splits packages by space, comma and line', () => {
      expect(read({ [Input.Packages]: 'curl  git,jq\nvim, \n  sudo\tless' }).image.packages).toEqual([
        'curl',
        'git',
        'jq',
        'vim',
        'sudo',
        'less'
      ])
    })

    it('reads build arguments one a line', () => {
      const inputs = read({ [Input.Dockerfile]: 'ci/Dockerfile', [Input.Context]: 'ci', [Input.BuildArgs]: 'A=1,2\nB=x y\n' })
      expect(inputs.image).toEqual({ base: 'debian:bookworm', packages: [], dockerfile: 'ci/Dockerfile', context: 'ci', buildArgs: ['A=1,2', 'B=x y'] })
    })
  })

  describe('options', () => {
    it('splits words as a shell would, quotes grouping words', () => {
      expect(read({ [Input.Options]: `--label "team=build tools" --add-host 'db:10.0.0.2'  --cpus=1.5 --env A=x\\ y` }).options).toEqual([
        '--label',
        'team=build tools',
        '--add-host',
        'db:10.0.0.2',
        '--cpus=1.5',
        '--env',
        'A=x y'
      ])
    })

    it('keeps $NAME literal, quoted or not', () => {
      expect(read({ [Input.Options]: '--env HOME=$HOME --label "user=$USER"' }).options).toEqual([
        '--env',
        'HOME=$HOME',
        '--label',
        'user=$USER'
      ])
    })

    it('keeps operators inside quotes as text', () => {
      expect(read({ [Input.Options]: `--label "a=x;y" --label 'b=p|q && r'` }).options).toEqual([
        '--label',
        'a=x;y',
        '--label',
        'b=p|q && r'
      ])
    })

    it.each(['--privileged; rm -rf /', '--rm | tee log', '--rm && echo done', '--rm > out', '--rm & sleep 1'])(
      'refuses shell syntax in %p, naming the input',
      options => {
        const error = refusal({ [Input.Options]: options })
        expect(error.message).toMatch(/^input 'options': /)
        expect(error.message).toContain('give plain docker run options only')
      }
    )

    // A shell starts a comment only at the start of a word: `issue=#12` is one word.
    it('lets mounts through that stay away from the cgroup tree', () => {
      const inputs = read({
        [Input.Options]: '-v data:/data --mount type=volume,source=cache,target=/cache --volume=/srv/sys:/x -ev=/sys -w /sys',
        [Input.Volumes]: 'named:/named\n/home/runner/sys:/sys-copy\n/anonymous'
      })
      expect(inputs.options).toHaveLength(8)
      expect(inputs.volumes).toEqual(['named:/named', '/home/runner/sys:/sys-copy', '/anonymous'])
    })

    it('keeps a pattern as the text it is: no shell expands it', () => {
      expect(read({ [Input.Options]: '--label b=x*y --label "c=[a]?"' }).options).toEqual([
        '--label',
        'b=x*y',
        '--label',
        'c=[a]?'
      ])
    })

    it('takes ports with addresses, ranges and protocols, and package groups', () => {
      const ports = '80\n8080:80\n127.0.0.1:5432:5432\n127.0.0.1::80\n[::1]:80:80\n8000-8010:8000-8010/tcp\n53:53/udp'
      const inputs = read({ [Input.Ports]: ports, [Input.Packages]: '@development-tools python3' })
      expect(inputs.ports).toHaveLength(7)
      expect(inputs.image.packages).toEqual(['@development-tools', 'python3'])
    })

    it('keeps a # inside a word, as a shell does', () => {
      expect(read({ [Input.Options]: '--label issue=#12' }).options).toEqual(['--label', 'issue=#12'])
    })
  })

  describe('errors name the input and say what would work', () => {
    it('strategy', () => {
      const { message } = refusal({ [Input.Strategy]: 'rootless' })
      expect(message).toBe("input 'strategy': 'rootless' is not one of auto, writable-cgroups, sys-admin, privileged")
    })

    it('show-journal', () => {
      expect(refusal({ [Input.ShowJournal]: 'sometimes' }).message).toBe(
        "input 'show-journal': 'sometimes' is not one of on-failure, always, never"
      )
    })

    it.each(['0', '-1', 'abc', 'Infinity', '10s', '1e20', '21601', '0x10', '1e1'])('boot-timeout %p', value => {
      expect(refusal({ [Input.BootTimeout]: value }).message).toBe(
        `input 'boot-timeout': '${value}' is not a positive number of seconds up to 21600 (for example 120)`
      )
    })

    it('stop-timeout that is not whole', () => {
      expect(refusal({ [Input.StopTimeout]: '2.5' }).message).toBe(
        "input 'stop-timeout': '2.5' is not a positive whole number of seconds up to 21600 (for example 30)"
      )
    })

    it.each([
      ['--cgroupns=host', "input 'options': --cgroupns is not allowed: the container always gets a private cgroup namespace"],
      ['--privileged', "input 'options': --privileged is not allowed: use the input 'strategy: privileged'"],
      ['--entrypoint /bin/bash', "input 'options': --entrypoint is not allowed: systemd must be PID 1"],
      ['--name=x', "input 'options': --name is not allowed: use the input 'name'"],
      ['-v /sys/fs/cgroup:/sys/fs/cgroup:rw', "input 'options': '/sys/fs/cgroup:/sys/fs/cgroup:rw' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['--volume /sys:/host-sys', "input 'options': '/sys:/host-sys' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['--volume=/sys/fs/:/x', "input 'options': '/sys/fs/:/x' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['--mount type=bind,source=/,target=/host', "input 'options': 'type=bind,source=/,target=/host' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['--mount=type=bind,src=/sys,dst=/s', "input 'options': 'type=bind,src=/sys,dst=/s' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['-v/sys:/s', "input 'options': '/sys:/s' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['-itv/sys:/s', "input 'options': '/sys:/s' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['-it -v=/:/host', "input 'options': '/:/host' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['--pid=host', "input 'options': --pid is not allowed: systemd must be PID 1 of a PID namespace of its own"],
      ['--user 1000', "input 'options': --user is not allowed: systemd runs as root in the container; use docker exec --user for the rest"],
      ['--init', "input 'options': --init is not allowed: systemd must be PID 1, not an init the engine adds"],
      ['-tu 65534', "input 'options': -u is not allowed: systemd runs as root in the container; use docker exec --user for the rest"],
      ['-itd', "input 'options': -d is not allowed: the container always runs in the background"],
      ['--cap-add ALL', "input 'options': --cap-add ALL is not allowed: use the input 'strategy: privileged'"],
      ['--cap-add=all', "input 'options': --cap-add ALL is not allowed: use the input 'strategy: privileged'"],
      ['--mount type=volume,dst=/c,volume-opt=type=cgroup2,volume-opt=device=cgroup2', "input 'options': 'type=volume,dst=/c,volume-opt=type=cgroup2,volume-opt=device=cgroup2' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['-v /proc:/hostproc', "input 'options': '/proc:/hostproc' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own"],
      ['-d', "input 'options': -d is not allowed: the container always runs in the background"]
    ])('options %p that would undo the isolation', (options, message) => {
      expect(refusal({ [Input.Options]: options }).message).toBe(message)
    })

    it.each(['/sys/fs/cgroup:/sys/fs/cgroup', '/sys:/host/sys:ro', '/:/host'])('a volume %p of the cgroup tree', volume => {
      expect(refusal({ [Input.Volumes]: volume }).message).toBe(
        `input 'volumes': '${volume}' brings the host's cgroup tree (/sys/fs/cgroup), or a way to it, into the container; the strategy gives systemd its own`
      )
    })

    it.each(['8080:80:tcp', 'http', '80/icmp', '1.2.3:80:80'])('port %p', port => {
      expect(refusal({ [Input.Ports]: `8080:80\n${port}` }).message).toBe(
        `input 'ports': '${port}' is not [ip:][host:]container[/tcp|udp|sctp] (8080:80, 127.0.0.1:5432:5432, 53:53/udp)`
      )
    })

    it.each(['70000:80', '99999', '127.0.0.1:8080:65536/udp', '8000-70000:8000-70000'])('port %p out of range', port => {
      expect(refusal({ [Input.Ports]: port }).message).toBe(`input 'ports': '${port}' names a port above 65535`)
    })

    it('takes the highest port, with or without an address', () => {
      expect(read({ [Input.Ports]: '65535:65535\n[::1]:80:80\n255.255.255.255:80:80' }).ports).toHaveLength(3)
    })

    it('a volume that is neither source:target nor an absolute path', () => {
      expect(refusal({ [Input.Volumes]: 'data' }).message).toBe(
        "input 'volumes': 'data' is neither source:target[:options] nor an absolute path"
      )
    })

    it('packages with your own Dockerfile', () => {
      expect(refusal({ [Input.Dockerfile]: 'Dockerfile', [Input.Packages]: 'python3' }).message).toBe(
        "input 'packages': applies to the generated image only; install them in your Dockerfile, or leave 'dockerfile' empty"
      )
    })

    it.each(['curl;sh', '$(id)', '-y'])('package %p', name => {
      expect(refusal({ [Input.Packages]: `python3 ${name}` }).message).toBe(
        `input 'packages': '${name}' is not a package name (python3, nginx=1.22.1-9, or a group such as @development-tools)`
      )
    })

    it.each(['-v', 'debian:bookworm\nRUN id', 'a b'])('image %p', image => {
      expect(refusal({ [Input.Image]: image }).message).toMatch(/^input 'image': [\s\S]* is not an image reference/)
    })

    it('a relative daemon-config', () => {
      expect(refusal({ [Input.DaemonConfig]: 'daemon.json' }).message).toBe(
        "input 'daemon-config': 'daemon.json' is not an absolute path (/etc/docker/daemon.json, say)"
      )
    })

    it('stop-timeout', () => {
      expect(refusal({ [Input.StopTimeout]: '-5' }).message).toBe(
        "input 'stop-timeout': '-5' is not a positive whole number of seconds up to 21600 (for example 30)"
      )
    })

    it.each([Input.Cache, Input.FailOnDegraded, Input.MountWorkspace, Input.KeepContainer, Input.RestoreDaemon])(
      'boolean %s',
      input => {
        const { message } = refusal({ [input]: 'yes' })
        expect(message).toBe(`input '${input}': 'yes' is neither true nor false`)
      }
    )

    it('env without =', () => {
      const { message } = refusal({ [Input.Env]: 'A=1\nNOVALUE\n' })
      expect(message).toBe("input 'env': 'NOVALUE' is not of the form NAME=value")
    })

    it('env with a name that is not one', () => {
      expect(refusal({ [Input.Env]: '1A=x' }).message).toBe("input 'env': '1A=x' is not of the form NAME=value")
    })

    it('build-args without =', () => {
      const { message } = refusal({ [Input.Dockerfile]: 'Dockerfile', [Input.BuildArgs]: 'VERSION' })
      expect(message).toBe("input 'build-args': 'VERSION' is not of the form NAME=value")
    })

    it('build-args without a dockerfile', () => {
      expect(refusal({ [Input.BuildArgs]: 'VERSION=1' }).message).toBe(
        "input 'build-args': applies to your own Dockerfile only; set 'dockerfile' too"
      )
    })

    it('context without a dockerfile', () => {
      expect(refusal({ [Input.Context]: 'ci' }).message).toBe(
        "input 'context': applies to your own Dockerfile only; set 'dockerfile' too"
      )
    })

    it.each(['ci/box', '-box', 'my box', '.box'])('name %p', value => {
      expect(refusal({ [Input.Name]: value }).message).toBe(
        `input 'name': '${value}' is not a valid container name (letters, digits, _ . -)`
      )
    })
  })
})
