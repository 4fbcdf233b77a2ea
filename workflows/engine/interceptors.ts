import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { renderAtActivationEnd, renderIfStale } from './step-table-render';

// The engine's workflow interceptor: the step table is rendered once per activation, as it concludes
// (step-table-render.ts). setCurrentDetails is no command, so this changes nothing in any history and
// runs the same on replay. Every worker and bundle loads this module (workers/workflow-interceptors.ts).

export const interceptors: WorkflowInterceptorsFactory = () => {
  renderAtActivationEnd();
  return {
    internals: [
      {
        concludeActivation(input, next) {
          renderIfStale();
          return next(input);
        },
      },
    ],
  };
};
