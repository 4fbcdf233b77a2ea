// The result of seedRegions: exactly what the next runbook (liveMigrate) needs to build a Crucible
// VolumeConstructionRequest without anyone copying geometry by hand (domain-apis.md A7: region
// {block_size, blocks_per_extent, extent_count, opts.target[], gen}). Pure types, importable anywhere.

export interface SeededRegion {
  dir: string;
  uuid: string;
  port: number;
  /** `address:port`, as the VCR's opts.target lists it. */
  target: string;
  /** What this run did with the region: made it (new or replacing a partial/foreign one) or kept it as it was. */
  action: 'created' | 'recreated-partial' | 'replaced-foreign' | 'kept';
  /** The runit service that runs its downstairs. */
  service: string;
}

export interface SeedRegionsResult {
  /** `address:port` ×3, in input order. */
  targets: string[];
  block_size: number;
  blocks_per_extent: number;
  extent_count: number;
  /**
   * The highest generation stored in any extent of the three regions (`dump`'s Max gen). The VCR's
   * gen must be strictly greater (domain-apis.md B4): at least maxGen + 1.
   */
  maxGen: number;
  maxFlush: number;
  regions: SeededRegion[];
  image: { path: string; bytes: number; sha256: string };
}
