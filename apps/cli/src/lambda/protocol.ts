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

export type HostReply = InvokeSuccess | InvokeFailure | HostReady | { type: 'init-error'; errorType: string; errorMessage: string };

/** Variables the host reads besides the function's own environment. */
export const HOST_BUNDLE_VAR = 'RYDES_LAMBDA_BUNDLE';
export const HOST_HANDLER_VAR = '_HANDLER';

/**
 * Node's profiling flags (`--cpu-prof`, `--cpu-prof-dir=…`, `--heap-prof…`): the CLI passes them on
 * to every environment, and they do not change the code V8 compiles, so the code cache's key
 * leaves them out (a profiled run then starts its environments as a plain run does).
 */
export const PROFILING_FLAG = /^--(cpu-prof|heap-prof)/;
