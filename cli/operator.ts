import os from 'node:os';

/**
 * Who is at the keyboard, for approvals and the notes on schedules: the user sudo ran as, else the OS
 * user. Not $USER: a cron job or `env -i` has none, and "unknown" tells an auditor nothing.
 */
export function operatorName(): string {
  const sudoUser = process.env.SUDO_USER?.trim();
  if (sudoUser) return sudoUser;
  try {
    return os.userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): the environment is all there is.
    return process.env.USER?.trim() || `uid ${process.getuid?.() ?? '?'}`;
  }
}
