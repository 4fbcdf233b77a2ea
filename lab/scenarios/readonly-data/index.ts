import type { LabScenario } from '../types';
import { buildReadonlyData } from './build';
import { checkReadonlyData, type CheckOptions } from './check';
import { HOST } from './sizes';
import { teardownReadonlyData } from './teardown';

// Scenario readonly-data: the object-store host of seed 002, broken as the operators found it.
// See build.ts for what is real and what is emulated, check.ts for how health is judged.

export const readonlyDataScenario: LabScenario = {
  name: 'readonly-data',
  description:
    'seed 002: /data (LV vg0/data0) mounted read-only; loop0 not allocatable, loop2 a PV smaller than its disk, ' +
    'loop1 with a ~1 GiB data offset; /media too full for a fourth disk because the object service holds a deleted temp file',
  hosts: [{ name: HOST.name, address: HOST.address }],
  build: buildReadonlyData,
  check: (ctx, opts) => checkReadonlyData(ctx, opts as CheckOptions),
  teardown: teardownReadonlyData,
};

export { buildReadonlyData, chooseFilesystem } from './build';
export { checkReadonlyData, fillTest, type CheckOptions, type FillTestOptions, type FillTestResult } from './check';
export { readBuildRecord, paths as readonlyDataPaths, type BuildRecord } from './layout';
export { DEFAULT_SCALE, EXTENT_BYTES, HOST, LV_NAME, MEDIA_DIR, MOUNT_POINT, OBJECT_SERVICE_PORT, PV_COUNT, VG_NAME, lvmSizeArg, readonlyDataSizes, scaleOf, type ReadonlyDataSizes } from './sizes';
export { teardownReadonlyData } from './teardown';
