// The ZFS replication runbooks (one line in workflows/index.ts registers them all).
export { replicateProject } from '../replicateProject';
export { replicateProjects } from '../replicateProjects';
export { moveProject } from '../moveProject';
