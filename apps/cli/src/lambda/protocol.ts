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

export type HostReply = InvokeSuccess | InvokeFailure | { type: 'ready' } | { type: 'init-error'; errorType: string; errorMessage: string };

/** Variables the host reads besides the function's own environment. */
export const HOST_BUNDLE_VAR = 'RYDES_LAMBDA_BUNDLE';
export const HOST_HANDLER_VAR = '_HANDLER';
