// The emulator's API for the lab and for tests. The tools themselves run through the wrapper
// scripts buildCrucibleEmulator writes.

export { buildCrucibleEmulator, BUNDLE_NAME, type CrucibleBuildOptions } from './build';
export { clearFaults, writeFaults, type Faults } from './faults';
export { main, PROGRAMS } from './main';
export { dscUuid, DSC_DEFAULTS } from './dsc';
export { DEFAULTS as CREATE_DEFAULTS } from './create';
export { REPAIR_PORT_OFFSET } from './server';
export { Region, extentPath, extentRelPath, extentFileBytes, formatRegionJson, makeRegionDef, readRegionDef, validateGeometry, type ExtentMeta, type RegionDef } from './region';
