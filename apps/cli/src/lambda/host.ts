/**
 * One Lambda execution environment: a child process that loads a built function bundle the way
 * the Node.js runtime does (`require(LAMBDA_TASK_ROOT/main.js)`, init once, then one invocation
 * at a time with a fresh context). Started by FunctionPool with the function's environment.
 * Imports node builtins only, so it runs as plain JS after bundling and under tsx in tests.
 */
import type { HostReply, InvokeRequest } from './protocol';

const bundlePath = process.env.RYDES_LAMBDA_BUNDLE ?? '';
const handlerName = (process.env._HANDLER ?? 'main.handler').split('.').pop() ?? 'handler';

type Handler = (event: unknown, context: unknown, callback: (err?: unknown, result?: unknown) => void) => unknown;

function send(reply: HostReply): void {
  process.send?.(reply);
}

function describeError(err: unknown): { errorType: string; errorMessage: string; stack?: string } {
  if (err instanceof Error) return { errorType: err.name, errorMessage: err.message, stack: err.stack };
  return { errorType: 'Error', errorMessage: String(err) };
}

function createContext(request: InvokeRequest) {
  const env = process.env;
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:123456789012:function:${functionName}`,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '1024',
    awsRequestId: request.awsRequestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local',
    getRemainingTimeInMillis: () => Math.max(0, request.deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function invoke(handler: Handler, request: InvokeRequest): Promise<void> {
  try {
    const result = await new Promise((resolve, reject) => {
      const callback = (err?: unknown, value?: unknown) => (err ? reject(err) : resolve(value));
      const returned = handler(request.event, createContext(request), callback);
      // Async handlers settle through their promise; callback-style ones through `callback`.
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(resolve, reject);
      }
    });
    // Lambda returns the handler's result as JSON: the same round trip here (the IPC channel
    // itself is structured clone, which would keep Dates and refuse functions).
    send({ type: 'result', id: request.id, result: result === undefined ? null : (JSON.parse(JSON.stringify(result) ?? 'null') as unknown) });
  } catch (err) {
    send({ type: 'error', id: request.id, ...describeError(err) });
  }
}

function main(): void {
  // The CLI owns shutdown: Ctrl-C reaches the whole process group, the parent then stops us.
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => process.exit(0));
  let handler: Handler;
  try {
    const mod = require(bundlePath) as Record<string, unknown>;
    handler = mod[handlerName] as Handler;
    if (typeof handler !== 'function') throw new TypeError(`${bundlePath} exports no function "${handlerName}"`);
  } catch (err) {
    const { errorType, errorMessage, stack } = describeError(err);
    // Lambda's runtime writes an init failure to the function's log as well.
    process.stderr.write(`${JSON.stringify({ level: 60, time: new Date().toISOString(), msg: `init failed: ${errorType}`, reason: errorMessage, stack })}\n`);
    send({ type: 'init-error', errorType: `Runtime.ImportModuleError: ${errorType}`, errorMessage });
    return;
  }
  process.on('message', (request: InvokeRequest) => {
    if (request.type === 'invoke') void invoke(handler, request);
  });
  send({ type: 'ready' });
}

main();
