/** IPC between the CLI and a function's execution environment (a child process running host.ts). */

export interface InvokeRequest {
  type: 'invoke';
  id: number;
  event: unknown;
  awsRequestId: string;
  /** Epoch ms at which the invocation times out (Lambda's deadline). */
  deadlineMs: number;
}

export interface InvokeSuccess {
  type: 'result';
  id: number;
  result: unknown;
}

export interface InvokeFailure {
  type: 'error';
  id: number;
  errorType: string;
  errorMessage: string;
  stack?: string;
}

/**
 * How the bundle's compiled code was found at init: `hit` from the code cache of an earlier
 * environment, `miss` (none yet), `rejected` (V8 refused it), `off` (no private cache folder).
 */
export type CodeCacheUse = 'hit' | 'miss' | 'rejected' | 'off';

export interface HostReady {
  type: 'ready';
  codeCache: CodeCacheUse;
}

/**
 * The function's environment variables, for an environment forked before they were known (see
 * {@link HOST_DEFERRED_VAR}): the host makes them its whole environment, then loads the bundle.
 */
export interface HostEnvironment {
  type: 'environment';
  env: Record<string, string>;
}

export type HostReply = InvokeSuccess | InvokeFailure | HostReady | { type: 'init-error'; errorType: string; errorMessage: string };

/** Variables the host reads besides the function's own environment. */
export const HOST_BUNDLE_VAR = 'RYDES_LAMBDA_BUNDLE';
export const HOST_HANDLER_VAR = '_HANDLER';
/**
 * Set (`1`) in an environment forked before the local stack's servers run: the host boots and
 * loads Node's own modules, then waits for a {@link HostEnvironment} message before its init.
 */
export const HOST_DEFERRED_VAR = 'RYDES_LAMBDA_DEFERRED';

/**
 * Node's profiling flags (`--cpu-prof`, `--cpu-prof-dir=…`, `--heap-prof…`): the CLI passes them on
 * to every environment, and they do not change the code V8 compiles, so the code cache's key
 * leaves them out (a profiled run then starts its environments as a plain run does).
 */
export const PROFILING_FLAG = /^--(cpu-prof|heap-prof)/;
