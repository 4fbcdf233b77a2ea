export { propolisInspectServer, propolisEnsure, propolisSetState, propolisWaitForState, propolisGuestReport, propolisFollowMigration, propolisDiskActive, propolisSettleMigration } from './activities';
export { crucibleInspectRegions, crucibleReserveGen } from './regions';
