import { sh, type ShellCommand } from '../ssh/command';
import { ZfsGetReader, type ZfsObject } from '../zfs/get';
import { datasetNameSchema } from '../zfs/names';
import { copiesFromObjects, inspectCopyProperties, type CopyState } from './copy-state';
import { copySummaryOf, REPLICATION_FACTOR_PROPERTY, type CopySummary } from './placement';

// Every copy a host holds, read with ONE `zfs get -Hp -d 2` over its pool: the projects (depth 1)
// with their snapshots (depth 2), both what placement needs and what the no-change rules need. ZFS
// answers a read with one ioctl per object it visits, and that is where a sweep's time goes (on
// zfs-fuse each costs ~0.3 ms of its daemon's CPU). Listing the pool, then reading each copy by name,
// visits every project twice: 5 ioctls per copy with one snapshot, against 4 for the pool-wide read.
// Its output is large (about 4 KB per copy), so it is parsed as it streams in and only the copies are
// kept.

/** `zfs get -Hp -d 2` over the pool with inspectCopyCommand's properties and the replication factor. */
export function inspectPoolCommand(pool: string, withWritten: boolean): ShellCommand {
  datasetNameSchema.parse(pool);
  const props = [...inspectCopyProperties(withWritten), REPLICATION_FACTOR_PROPERTY].join(',');
  return sh`zfs get -Hp -d 2 -o name,property,value,source ${props} ${pool}`;
}

/** Reads inspectPoolCommand's output as it streams in: each project's summary and copy. */
export class PoolCopiesReader {
  readonly summaries: CopySummary[] = [];
  /** By dataset name (pool/<project>). */
  readonly copies = new Map<string, CopyState>();
  private readonly objects: ZfsGetReader;
  /** The project whose filesystem came last, with its objects so far (its snapshots follow it). */
  private open: { summary: CopySummary; dataset: string; objects: ZfsObject[] } | null = null;

  constructor(
    private readonly host: string,
    private readonly pool: string,
  ) {
    this.objects = new ZfsGetReader((o) => this.take(o));
  }

  push(chunk: string): void {
    this.objects.push(chunk);
  }

  end(): void {
    this.objects.end();
    this.close();
  }

  private take(o: ZfsObject): void {
    if (this.open && o.dataset === this.open.dataset) {
      this.open.objects.push(o);
      return;
    }
    const summary = copySummaryOf(this.pool, o);
    // Anything else (the pool itself, a project's child filesystems) is not a copy.
    if (!summary) return;
    this.close();
    this.open = { summary, dataset: o.name, objects: [o] };
  }

  private close(): void {
    if (!this.open) return;
    const { summary, dataset, objects } = this.open;
    this.summaries.push(summary);
    this.copies.set(dataset, copiesFromObjects(this.host, objects, [dataset]).get(dataset) as CopyState);
    this.open = null;
  }
}
