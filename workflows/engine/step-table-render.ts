// When the step table (the UI's Current Details) is rendered. A step changes it three or four times
// (begun, attempt started, ended, and the next one begun) within one workflow task, and rendering the
// whole table each time cost worker CPU on every step (docs/operators.md, "What a step costs"). Only
// what stands when the task ends can ever be read: the metadata query that the UI calls runs between
// activations. So a change only marks the table stale, and the workflow interceptor
// (workflows/engine/interceptors.ts) renders it once as each activation concludes.
//
// Module state is per workflow run: the SDK gives each run its own module instances.

let atActivationEnd = false;
let stale: (() => void) | undefined;
let renders = 0;

/** Called by the interceptor as the run starts: from now on renders wait for the end of the activation. */
export function renderAtActivationEnd(): void {
  atActivationEnd = true;
}

/**
 * Render now, or, when the interceptor is installed, once when this activation ends. A worker built
 * without the interceptor (a bundle made elsewhere) still shows a right table, only at the old cost.
 */
export function scheduleRender(render: () => void): void {
  if (atActivationEnd) stale = render;
  else {
    renders++;
    render();
  }
}

/** The interceptor's end-of-activation hook: render what changed during the activation. */
export function renderIfStale(): void {
  const render = stale;
  stale = undefined;
  if (!render) return;
  renders++;
  render();
}

/** How often this run rendered its step table so far (the engine tier checks: at most once per workflow task). */
export function stepTableRenders(): number {
  return renders;
}
