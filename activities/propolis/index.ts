export { propolisInspectServer, propolisEnsure, propolisSetState, propolisWaitForState, propolisGuestReport, propolisFollowMigration, propolisDiskActive } from './activities';
export { crucibleInspectRegions, crucibleReserveGen } from './regions';
