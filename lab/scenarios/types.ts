// The contract between the lab core and a scenario (a broken state from a seed, reproduced on one or
// more lab hosts). The core starts each host (namespace, sshd, empty bin/ folder); the scenario's
// build then gives the host its disks, tools, services and breakage; its check judges the host
// independently of any runbook.

export interface ScenarioContext {
  /** The lab host this call is about. */
  host: string;
  /**
   * The host's state folder on this machine (.lab/hosts/<name>). The same path works inside the host,
   * except its subfolders root/, bin/ and run/, which appear there as /root, /usr/local/sbin and /run.
   * Put emulated tools in `${hostDir}/bin` (first on sshd's PATH) and disk images anywhere else here.
   */
  hostDir: string;
  /** Run `bash -c script` inside the host (via nsenter, not ssh; works while its sshd is down). */
  exec(script: string, opts?: { input?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Start a long-running process in the host, detached; returns its pid as this machine sees it. Lab down stops it. */
  spawn(script: string, opts?: { logFile?: string }): Promise<number>;
  /** Register a process for lab down to stop: a pid as this machine sees it (outside the host's PID namespace). */
  recordPid(pid: number): void;
  /** Register a file backing a loop device (absolute, as this machine sees it); lab down detaches its devices. */
  recordLoopBackingFile(file: string): void;
  /** Register a path outside hostDir that the scenario created; lab down removes it recursively. */
  recordPath(p: string): void;
  /** A progress line for the operator (prefixed with the host name). */
  log(msg: string): void;
}

export interface ScenarioOptions {
  /** Build at the incident's real size instead of the fast default. */
  fullSize: boolean;
}

export interface CheckReport {
  ok: boolean;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

export interface LabScenario {
  name: string;
  description: string;
  /** Each host's name and its own loopback address (127.0.0.x); sshd listens on port 22 there. */
  hosts: Array<{ name: string; address: string }>;
  /** Called once per host, in the order of `hosts`, after the host's namespace and sshd are up. */
  build(ctx: ScenarioContext, opts: ScenarioOptions): Promise<void>;
  /** Whether the host is healthy, judged from the incident's description; called once per host. */
  check?(ctx: ScenarioContext, opts: ScenarioOptions): Promise<CheckReport>;
  /** Undo what killing the host's processes and removing recorded paths would not (e.g. export a pool); called once per host before lab down stops it. */
  teardown?(ctx: ScenarioContext): Promise<void>;
}
