// Activities of runbook seedRegions (Crucible regions seeded from an OS image).
export {
  checkDownstairs,
  confirmSeedTargets,
  createRegions,
  inspectSeeding,
  removeDownstairsServices,
  removeForeignRegions,
  removeSeededRegions,
  superviseDownstairs,
  verifyRegions,
} from './activities';
