import { createHash } from 'node:crypto';

/** OpenSSH's fingerprint format: SHA256:<unpadded base64 of the sha256 of the key blob>. */
export function fingerprintOfBlob(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The fingerprint of an OpenSSH public key line ("ssh-ed25519 AAAA... comment"). */
export function fingerprintOfPublicKeyLine(line: string): string {
  const base64 = line.trim().split(/\s+/)[1];
  if (!base64) throw new Error(`not an OpenSSH public key line: ${line.slice(0, 40)}`);
  return fingerprintOfBlob(Buffer.from(base64, 'base64'));
}
