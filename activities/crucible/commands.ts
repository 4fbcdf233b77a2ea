import { sh, type ShellCommand } from '../ssh/command';

// Every command seedRegions runs on the storage host. Pure: the workflow shows them in plans with
// their exact flags; the activities run them. Values are quoted words (see ssh/command.ts).

export interface CreateSpec {
  dir: string;
  uuid: string;
  blockSize: number;
  extentSize: number;
  extentCount: number;
  image: string;
}

export interface ServiceSpec {
  /** The runit service directory, e.g. /etc/sv/crucible-downstairs-8810. */
  svdir: string;
  dir: string;
  port: number;
  address: string;
  uuid: string;
}

/** The runit service name of the downstairs on `port`. */
export function serviceName(port: number): string {
  return `crucible-downstairs-${port}`;
}

/**
 * The service's run script: runsv runs it, and runs it again whenever it exits. `exec` so runsv's
 * child IS the downstairs (sv signals reach it). stderr joins stdout for the log service.
 */
export function runScript(dsBin: string, s: ServiceSpec): string[] {
  return ['#!/bin/sh', `# Crucible downstairs for region ${s.uuid} (made by runbook seedRegions)`, 'exec 2>&1', `exec ${dsBin} run -d ${s.dir} -p ${s.port} -a ${s.address} --mode rw`];
}

export const LOG_RUN_SCRIPT = ['#!/bin/sh', 'exec svlogd -tt ./main'];

/** Exit 0 when something accepts a TCP connection on $0:$1, 7 when it is refused. */
const TCP_ACCEPTS_SCRIPT = 'exec 3<>"/dev/tcp/$0/$1" || exit 7';

/** LBA 1 of a disk with 512- and with 4096-byte logical sectors. */
export const GPT_HEADER_OFFSETS = [512, 4096] as const;

export const crucibleCommands = {
  /** Where the tools are; the service's run script names the downstairs by absolute path. */
  tools: () => sh`command -v crucible-downstairs; command -v runsv; command -v sv; command -v svlogd; true`,
  imageFacts: (image: string) => sh`stat -L -c %s ${image} && sha256sum ${image}`,
  /** The 8 bytes at 512 and at 4096, in hex: a GPT header's signature ("EFI PART") sits at LBA 1, so where it is tells the image's logical sector size. */
  imageGptSignatures: (image: string) =>
    sh`for at in ${GPT_HEADER_OFFSETS.map(String)}; do printf '%s ' "$at"; dd if=${image} bs=1 skip="$at" count=8 2>/dev/null | od -An -tx1 | tr -d ' \n'; echo; done`,
  /** sha256 of the image zero-padded to a whole number of blocks: what an export of its blocks must equal. */
  paddedImageSha: (image: string, padBytes: number) => sh`{ cat ${image} && head -c ${padBytes} /dev/zero; } | sha256sum`,
  /** absent | not-a-directory | empty | region (then region.json) | files (then a few names). */
  dirState: (dir: string) =>
    sh`if [ ! -e ${dir} ]; then echo absent
elif [ ! -d ${dir} ]; then echo not-a-directory
elif [ -f ${dir}/region.json ]; then echo region; cat ${dir}/region.json
elif [ -z "$(ls -A ${dir})" ]; then echo empty
else echo files; ls -A ${dir} | head -n 5; fi`,
  /** The filesystem the directory is (or would be) on, and its free space; walks up to the nearest existing parent. */
  filesystemOf: (dir: string) => sh`d=${dir}; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; findmnt -J -T "$d" -o TARGET,SOURCE,FSTYPE && df -B1 --output=avail "$d" | tail -n 1`,
  poolHealth: (pool: string) => sh`zpool list -H -p -o name,health,free ${pool}`,
  dump: (dirs: string[]) => sh`crucible-downstairs dump ${dirs.flatMap((d) => ['-d', d])} --no-color`,
  /** sha256 of the region's first `count` blocks, through a temporary file that is always removed. */
  exportSha: (dir: string, count: number) =>
    sh`tmp=$(mktemp /tmp/seed-regions-export.XXXXXX) || exit 1
crucible-downstairs export -d ${dir} -e "$tmp" --count ${count} >/dev/null && sha256sum "$tmp"; rc=$?; rm -f "$tmp"; exit $rc`,
  create: (c: CreateSpec) => sh`crucible-downstairs create -d ${c.dir} -u ${c.uuid} --block-size ${c.blockSize} --extent-size ${c.extentSize} --extent-count ${c.extentCount} --import-path ${c.image}`,
  removeDir: (dir: string) => sh`rm -rf -- ${dir}`,
  /** Whether the downstairs port takes connections (the upstairs' port), from the host itself. */
  tcpAccepts: (address: string, port: number) => sh`timeout 5 bash -c ${TCP_ACCEPTS_SCRIPT} ${address} ${port}`,
  /**
   * Crucible's repair server (port + 4000, dropshot, unversioned): GET /region-info answers the
   * region's RegionDefinition, which names the region a port serves. curl exits 7 when nothing
   * listens; the status code follows the body on a line of its own.
   */
  repairRegionInfo: (address: string, repairPort: number) => sh`curl -sS --max-time 5 -w ${'\n%{http_code}\n'} ${`http://${address}:${repairPort}/region-info`}`,
  readRunScript: (svdir: string) => sh`cat ${svdir}/run 2>/dev/null || true`,
  svStatus: (svdir: string) => sh`sv status ${svdir}`,
  /** Write the service directory (run script, log service), each file through a temp file and rename. */
  installService: (svdir: string, run: string[]) =>
    sh`mkdir -p ${svdir}/log/main && printf '%s\\n' ${run} >${svdir}/run.tmp && chmod 755 ${svdir}/run.tmp && mv ${svdir}/run.tmp ${svdir}/run && printf '%s\\n' ${LOG_RUN_SCRIPT} >${svdir}/log/run.tmp && chmod 755 ${svdir}/log/run.tmp && mv ${svdir}/log/run.tmp ${svdir}/log/run`,
  /** Start runsv for the service unless one supervises it already; setsid so it outlives this SSH session. */
  startSupervisor: (svdir: string) => sh`sv status ${svdir} >/dev/null 2>&1 || setsid -f runsv ${svdir} </dev/null >/dev/null 2>&1`,
  svUp: (svdir: string) => sh`sv up ${svdir}`,
  /** Restart the downstairs (its run script changed): sv sends TERM, runsv starts it again. */
  svRestart: (svdir: string) => sh`sv -w 30 restart ${svdir}`,
  /** Stop the downstairs and its supervisor, then remove the service. Nothing to do when it is gone. */
  removeService: (svdir: string) =>
    sh`if [ -d ${svdir} ]; then
  sv -w 30 force-stop ${svdir} >/dev/null 2>&1 || true
  sv exit ${svdir} ${svdir}/log >/dev/null 2>&1 || true
  for i in $(seq 100); do sv status ${svdir} >/dev/null 2>&1 || break; sleep 0.1; done
  rm -rf -- ${svdir}
fi`,
} satisfies Record<string, (...args: never[]) => ShellCommand>;
