import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createS3Client, createSqsClient, putObject } from '@rydes/aws-adapters';
import { objectKeys } from '@rydes/ride-model';
import { workspaceRoot } from '../src/stack/bundles';
import { type EndpointsFile, ENDPOINTS_FILE, localClientEnv } from '../src/stack/connect';
import { writeInput } from './helpers/pipeline';

// `rydes up --watch` in a copy of this workspace (tracked files, node_modules linked, the built
// cli and function bundles copied), so the spec can edit the transform's sources and let the real
// Nx build rebuild them without touching the checkout. Real s3rver and local-aws-sqs over HTTP.
const SOURCE = workspaceRoot();
const MAIN = 'apps/transform-fn/src/main.ts';
const RIDES_PER_MESSAGE = 20;
const RIDES = 60;
const MESSAGES = RIDES / RIDES_PER_MESSAGE;
// Hang guards for a busy 2-core machine (nx graph, two uncached Nx builds in the copy), not speed checks.
const BUILD_WAIT_MS = 400_000;
const SETTLE_WAIT_MS = 120_000;

/** The copy: every tracked (and untracked, not ignored) file, node_modules linked, dist/ of the three apps. */
function copyWorkspace(): string {
  const copy = mkdtempSync(join(tmpdir(), 'rydes-watch-e2e-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: SOURCE, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    try {
      cpSync(join(SOURCE, file), join(copy, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  symlinkSync(join(SOURCE, 'node_modules'), join(copy, 'node_modules'), 'dir');
  for (const project of ['cli', 'ingest-fn', 'transform-fn']) cpSync(join(SOURCE, 'dist/apps', project), join(copy, 'dist/apps', project), { recursive: true });
  return copy;
}

/** This process's environment without Nx's task variables (they name the outer workspace). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('NX_')) env[name] = value;
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
}

/**
 * The edit the spec makes to the transform: the handler marks every message it is given with an
 * object `watch-spec/<messageId>` before handling it as before, so the bucket shows which code
 * ran. Only the Lambda contract (`export const handler` in main.ts) is relied on.
 */
function markingHandler(source: string): string {
  const renamed = source.replace(/export const handler\b/, 'const handlerBeforeWatch');
  if (renamed === source) throw new Error(`${MAIN} no longer declares "export const handler": update the edit in watch.e2e.spec.ts`);
  return `${renamed}
import { createS3Client as watchS3Client, putObject as watchPutObject } from '@rydes/aws-adapters';
const watchS3 = watchS3Client();
export const handler = async (...args: Parameters<typeof handlerBeforeWatch>) => {
  for (const record of args[0].Records) await watchPutObject(watchS3, process.env.OUTPUT_BUCKET ?? '', \`watch-spec/\${record.messageId}\`, 'v2');
  return handlerBeforeWatch(...args);
};
`;
}

async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return Contents.map((c) => c.Key ?? '');
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the execution environments (host.js children) of process `pid`; how many. */
function endEnvironments(pid: number): number {
  const lines = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).trim().split('\n');
  const hosts = lines.filter((line) => /host\.js/.test(line)).map((line) => Number(line.trim().split(/\s+/)[0]));
  for (const host of hosts) process.kill(host, 'SIGKILL');
  return hosts.length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rydes up --watch (a copy of the workspace, the real Nx rebuild, real local S3 and SQS servers)', () => {
  let copy: string;
  let child: ChildProcess | undefined;
  let out = '';
  let s3: S3Client | undefined;
  afterAll(async () => {
    s3?.destroy();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGINT');
      await Promise.race([exited, sleep(30_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (copy) rmSync(copy, { recursive: true, force: true });
    // What rydes up printed, kept on request (the README quotes it).
    if (process.env.RYDES_WATCH_E2E_OUT) writeFileSync(process.env.RYDES_WATCH_E2E_OUT, out);
  });

  /** Resolves with the output from where `pattern` first matched, once it has. */
  async function printed(pattern: RegExp, from: number, timeoutMs: number): Promise<number> {
    for (let waited = 0; ; waited += 250) {
      const at = out.slice(from).search(pattern);
      if (at >= 0) return from + at;
      if (child?.exitCode !== null) throw new Error(`rydes up exited (${child?.exitCode}) before printing ${pattern}:\n${out}`);
      if (waited > timeoutMs) throw new Error(`rydes up did not print ${pattern} within ${timeoutMs / 1000} s:\n${out}`);
      await sleep(250);
    }
  }

  it('rebuilds the transform after a source edit; the next upload runs the new code, the earlier one ran the old; a broken edit keeps the last good code; nothing lost, DLQs empty', async () => {
    // Prepare: the copy and rydes up --watch in it
    copy = copyWorkspace();
    const dataDir = join(copy, '.rydes-e2e');
    child = spawn(process.execPath, [join(copy, 'dist/apps/cli/main.js'), 'up', '--watch', '--data-dir', dataDir, '--concurrency', '1', '--rides-per-message', String(RIDES_PER_MESSAGE)], {
      cwd: copy,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c) => (out += c));
    child.stderr?.on('data', (c) => (out += c));
    await printed(/Watching \(a change rebuilds/, 0, BUILD_WAIT_MS);
    expect(out).toMatch(/transform-fn ← apps\/transform-fn\/src, .*libs\/geo-index\/src/);
    const endpoints = JSON.parse(readFileSync(join(dataDir, ENDPOINTS_FILE), 'utf8')) as EndpointsFile;
    const env = localClientEnv(endpoints);
    s3 = createS3Client(env);
    const client = s3;
    const { bucket } = endpoints;
    const inputs = join(copy, 'inputs');
    mkdirSync(inputs);

    /** Uploads `RIDES` seeded rides and waits for the manifest and every row; the CSV keys. */
    const uploadAndSettle = async (name: string, seed: number): Promise<string[]> => {
      const input = await writeInput(inputs, { shape: 'ndjson', gzip: false, name }, seed, RIDES, 0);
      const key = `raw/${name}`;
      const { etag } = await putObject(client, bucket, key, readFileSync(input.path));
      const keys = objectKeys({ bucket, key, etag: etag ?? '' });
      for (let waited = 0; waited < SETTLE_WAIT_MS; waited += 500) {
        await sleep(500);
        if (!(await exists(client, bucket, keys.manifest))) continue;
        const csvs = await keysUnder(client, bucket, keys.processedPrefix);
        let rows = 0;
        for (const csv of csvs) {
          const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: csv }))).Body?.transformToString();
          rows += (body ?? '').trim().split('\n').length - 1;
        }
        if (rows === input.total) return csvs;
      }
      throw new Error(`${key} did not settle within ${SETTLE_WAIT_MS / 1000} s:\n${out}`);
    };
    const markers = () => keysUnder(client, bucket, 'watch-spec/');

    // Act 1: an upload on the code the stack started with
    const first = await uploadAndSettle('watch-first.ndjson', 1);
    expect(first).toHaveLength(MESSAGES);
    expect(await markers()).toEqual([]);

    // Act 2: edit the transform's source; the watch rebuilds it through Nx and swaps it in
    const mainFile = join(copy, MAIN);
    let from = out.length;
    writeFileSync(mainFile, markingHandler(readFileSync(mainFile, 'utf8')));
    await printed(/transform-fn rebuilt in \d+\.\d s; new invocations run it/, from, BUILD_WAIT_MS);
    const second = await uploadAndSettle('watch-second.ndjson', 2);
    // Assess: the second upload ran the new code (a marker per message), the first the old (none)
    expect(second).toHaveLength(MESSAGES);
    expect(await markers()).toHaveLength(MESSAGES);

    // Act 3: an edit that does not build; the last good code keeps running
    from = out.length;
    appendFileSync(mainFile, '\nthis is not code\n');
    const failedAt = await printed(/transform-fn: the build failed after \d+\.\d s; the old code keeps running\./, from, BUILD_WAIT_MS);
    // Nx removed dist/ when that build started; end the idle execution environments (as Lambda
    // may at any time) so the next invocations start cold and must find the last good bundle.
    expect(endEnvironments(child.pid ?? 0)).toBeGreaterThanOrEqual(1);
    const third = await uploadAndSettle('watch-third.ndjson', 3);
    // Assess
    expect(out.slice(failedAt).split('\n')[1]).toMatch(/apps\/transform-fn\/src\/main\.ts:\d+:\d+ - error TS\d+/);
    expect(third).toHaveLength(MESSAGES);
    expect(await markers()).toHaveLength(2 * MESSAGES);
    const sqs = createSqsClient(env);
    try {
      for (const url of [endpoints.queues.fanoutDlq, endpoints.queues.ingestDlq]) {
        const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }));
        expect(Number(Attributes.ApproximateNumberOfMessages)).toBe(0);
      }
    } finally {
      sqs.destroy();
    }

    // Ctrl-C closes the stack and the watch
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
  }, 1_500_000);
});
