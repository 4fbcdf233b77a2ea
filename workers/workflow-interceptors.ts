// The workflow interceptor modules every worker, bundle and replayer of the runbooks loads (the
// engine's, workflows/engine/interceptors.ts). A bundle carries them inside it, so they go to
// bundleWorkflowCode; a worker that bundles itself gets them as interceptors.workflowModules.
export const workflowInterceptorModules = [require.resolve('../workflows/engine/interceptors')];
