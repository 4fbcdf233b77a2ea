import path from 'node:path';
import { hostKeyPath } from './keys';
import { hostDir, operatorKeyPath } from './paths';

/** sshd writes its (inner, namespace) pid here after it binds its listener. */
export function sshdPidFile(host: string): string {
  return path.join(hostDir(host), 'sshd.pid');
}

export function sshdLogFile(host: string): string {
  return path.join(hostDir(host), 'log', 'sshd.log');
}

export function sshdConfigPath(host: string): string {
  return path.join(hostDir(host), 'sshd_config');
}

/**
 * The host's own sshd_config: nothing from /etc/ssh is read, so the machine's sshd settings never
 * leak into the lab and every host listens only on its own address.
 */
export function renderSshdConfig(host: string, address: string): string {
  return [
    `# lab host ${host}: written by lab/sshd-config.ts on every start`,
    `ListenAddress ${address}:22`,
    `HostKey ${hostKeyPath(host)}`,
    `PidFile ${sshdPidFile(host)}`,
    // Only the lab operator's key logs in; it lives in the lab folder, not in the host's /root.
    `AuthorizedKeysFile ${operatorKeyPath()}.pub`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // PAM would pull in the machine's session stack (and /etc/environment); keys are all we need.
    'UsePAM no',
    // The lab folder belongs to whoever checked the repo out; sshd's ownership checks would refuse it.
    'StrictModes no',
    // Workers run ~20 commands in parallel over one pooled connection, each a channel/session.
    'MaxSessions 64',
    'MaxStartups 100:30:200',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp internal-sftp',
    'LogLevel INFO',
    '',
  ].join('\n');
}
