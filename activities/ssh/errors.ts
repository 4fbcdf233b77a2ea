import { ApplicationFailure } from '@temporalio/common';

// Error types the engine and retry policies match on (ApplicationFailure.type).
export const HOST_KEY_MISMATCH = 'HostKeyMismatch';
export const UNKNOWN_HOST = 'UnknownHost';
export const MISSING_CREDENTIALS = 'MissingCredentials';
export const COMMAND_FAILED = 'CommandFailed';
export const COMMAND_TIMED_OUT = 'CommandTimedOut';
export const HOST_UNREACHABLE = 'HostUnreachable';

/** A refused host key must never be retried: retrying is how a man in the middle wins. */
export function hostKeyMismatch(host: string, pinned: string, presented: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `host key of ${host} does not match the inventory: pinned ${pinned}, presented ${presented}. ` +
      `If the host was rebuilt on purpose, update its hostKey in the inventory; otherwise treat this as an attack.`,
    HOST_KEY_MISMATCH,
    { host, pinned, presented },
  );
}

/** Failures that mean the host never ran the command or never answered; any other failure of a remote command is the host's own answer. */
const NO_ANSWER = new Set([HOST_UNREACHABLE, COMMAND_TIMED_OUT, UNKNOWN_HOST, MISSING_CREDENTIALS, HOST_KEY_MISMATCH]);

/** Whether a failure of this ApplicationFailure type (or Temporal timeout, `Timeout:*`) came back from the host itself. */
export function hostAnswered(type: string | null | undefined): boolean {
  return !type || !(NO_ANSWER.has(type) || type.startsWith('Timeout'));
}
