import * as a from './activities';
import * as r from './regions';
import { keepAlive } from './keep-alive';

// Every activity here runs under a short heartbeat timeout (see keep-alive.ts); the ones that do not
// heartbeat on their own (quick calls, SSH sessions between commands) are kept alive. The two that
// heartbeat with details (the migration's phases, the state followed) do it themselves, at least
// once a second.
export const propolisInspectServer = keepAlive(a.propolisInspectServer);
export const propolisEnsure = keepAlive(a.propolisEnsure);
export const propolisSetState = keepAlive(a.propolisSetState);
export const propolisGuestReport = keepAlive(a.propolisGuestReport);
export const propolisDiskActive = keepAlive(a.propolisDiskActive);
export const { propolisWaitForState, propolisFollowMigration, propolisSettleMigration } = a;
export const crucibleInspectRegions = keepAlive(r.crucibleInspectRegions);
export const crucibleReserveGen = keepAlive(r.crucibleReserveGen);
export const crucibleDiskHolders = keepAlive(r.crucibleDiskHolders);
