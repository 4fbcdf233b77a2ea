// Activities for the object service of the readonly-data incident: releasing space its process
// holds (a graceful restart through its supervisor) and probing its downtime.
// Only activities here: the worker registers everything this file exports.
export { releaseDeletedFiles, checkSpaceReleased } from './release';
export { probeObjectService } from './probe';
