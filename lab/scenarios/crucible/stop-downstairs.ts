import type { ScenarioContext } from '../types';

/**
 * Stop the Crucible downstairs that runbook seedRegions left under runit on a lab host (its
 * services in /run/sv or /etc/sv), and their supervisors. Lab down kills only what lab up started;
 * these hold region files open on the host's pools, and every export of them is refused meanwhile,
 * the forced one too (lab down gave up after about 40 s, after npm start's seedRegions and
 * liveMigrate tour stops).
 */
export async function stopSupervisedDownstairs(ctx: ScenarioContext): Promise<void> {
  await ctx.exec('for d in /run/sv/crucible-downstairs-* /etc/sv/crucible-downstairs-*; do [ -d "$d" ] || continue; sv force-stop "$d"; sv exit "$d" "$d/log"; done >/dev/null 2>&1; true', {
    timeoutMs: 60_000,
  });
}
