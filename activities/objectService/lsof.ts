import type { DeletedOpenFile } from '../lvm/types';

// `lsof -n +L1 -F pcRfskn` (domain-apis D6): one field per line, `p` starts a process set, `f`
// starts a file within it. Pure: tests feed it real captures.

export const LSOF_DELETED_FIELDS = 'pcRfskn';

export function parseLsofDeleted(text: string): DeletedOpenFile[] {
  const out: DeletedOpenFile[] = [];
  let proc: { pid: number; ppid: number; command: string } | null = null;
  let file: Partial<DeletedOpenFile> | null = null;
  const flush = () => {
    if (proc && file && file.path !== undefined) {
      out.push({ pid: proc.pid, ppid: proc.ppid, command: proc.command, fd: file.fd ?? '?', sizeBytes: file.sizeBytes ?? 0, path: file.path });
    }
    file = null;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const id = line[0];
    const value = line.slice(1);
    switch (id) {
      case 'p':
        flush();
        proc = { pid: Number(value), ppid: 0, command: '' };
        break;
      case 'c':
        if (proc) proc.command = value;
        break;
      case 'R':
        if (proc) proc.ppid = Number(value);
        break;
      case 'f':
        flush();
        file = { fd: value };
        break;
      case 's':
        if (file) file.sizeBytes = Number(value);
        break;
      case 'n':
        // Linux keeps " (deleted)" on the name of an unlinked file.
        if (file) file.path = value.replace(/ \(deleted\)$/, '');
        break;
      default:
        break; // k (link count) and anything newer lsof adds
    }
  }
  flush();
  return out;
}

/** Whether path lies on the filesystem mounted at mountTarget (by prefix: lsof names deleted files by path). */
export function isUnder(path: string, mountTarget: string): boolean {
  if (mountTarget === '/') return path.startsWith('/');
  return path === mountTarget || path.startsWith(`${mountTarget}/`);
}
