/** The action's inputs, as named in action.yml. */
export enum Input {
  Image = 'image',
  Packages = 'packages',
  Dockerfile = 'dockerfile',
  Context = 'context',
  BuildArgs = 'build-args',
  Cache = 'cache',
  Strategy = 'strategy',
  BootTimeout = 'boot-timeout',
  FailOnDegraded = 'fail-on-degraded',
  MountWorkspace = 'mount-workspace',
  Volumes = 'volumes',
  Env = 'env',
  Ports = 'ports',
  Options = 'options',
  Name = 'name',
  KeepContainer = 'keep-container',
  ShowJournal = 'show-journal',
  StopTimeout = 'stop-timeout',
  JobStatus = 'job-status',
  CgroupParent = 'cgroup-parent',
  DaemonConfig = 'daemon-config',
  RestoreDaemon = 'restore-daemon'
}

/** The action's outputs, as named in action.yml. */
export enum Output {
  ContainerId = 'container-id',
  ContainerName = 'container-name',
  Image = 'image',
  ImageId = 'image-id',
  CacheHit = 'cache-hit',
  CgroupVersion = 'cgroup-version',
  Strategy = 'strategy',
  SystemdVersion = 'systemd-version',
  BootTime = 'boot-time',
  CgroupPath = 'cgroup-path'
}

/** What the main step leaves for the post step. */
export enum State {
  IsPost = 'is-post',
  ContainerId = 'container-id',
  ContainerName = 'container-name',
  DaemonConfig = 'daemon-config',
  PostSettings = 'post-settings'
}
