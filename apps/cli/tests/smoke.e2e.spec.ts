import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createS3Client, createSqsClient } from '@rydes/aws-adapters';
import { workspaceRoot } from '../src/stack/bundles';
import { type EndpointsFile, ENDPOINTS_FILE, localClientEnv } from '../src/stack/connect';

const CLI = join(workspaceRoot(), 'dist/apps/cli/main.js');
// A hang guard for two `rydes up` starts on a busy 2-core machine, not a speed check.
const quiet = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** Runs the built CLI to completion; resolves with its exit code and output. */
function rydes(args: string[], env: NodeJS.ProcessEnv = quiet): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** `rydes up --data-dir dir` as a user starts it; resolves once its endpoints.json is published. */
async function up(dir: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ child: ChildProcess; endpoints: EndpointsFile }> {
  const child = spawn(process.execPath, [CLI, 'up', '--data-dir', dir, '--concurrency', '1', ...extra], { env, stdio: 'ignore' });
  const file = join(dir, ENDPOINTS_FILE);
  for (let waited = 0; !existsSync(file); waited += 100) {
    if (child.exitCode !== null) throw new Error(`rydes up exited with ${child.exitCode}`);
    if (waited > 60_000) throw new Error('rydes up did not publish its endpoints within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, endpoints: JSON.parse(readFileSync(file, 'utf8')) as EndpointsFile };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

/** Keys under raw/, processed/, rejects/, manifests/ and the messages in both DLQs, straight from the servers. */
async function leftovers(endpoints: EndpointsFile) {
  const env = localClientEnv(endpoints);
  const s3 = createS3Client(env);
  const sqs = createSqsClient(env);
  try {
    const { Contents = [] } = await s3.send(new ListObjectsCommand({ Bucket: endpoints.bucket }));
    const depth = async (url: string) => {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return Number(Attributes.ApproximateNumberOfMessages);
    };
    return {
      keys: Contents.map((c) => c.Key).filter((k) => !k?.startsWith('stations/')),
      fanoutDlq: await depth(endpoints.queues.fanoutDlq),
      ingestDlq: await depth(endpoints.queues.ingestDlq),
    };
  } finally {
    s3.destroy();
    sqs.destroy();
  }
}

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('rydes smoke --local against a running rydes up (real local S3 and SQS servers, built bundles)', () => {
  it('passes on a healthy stack, prints each stage, and leaves no object or DLQ message behind', async () => {
    // Prepare
    const dir = tempDir('rydes-smoke-ok-');
    const { child, endpoints } = await up(dir, quiet);
    try {
      // Act
      const smoke = await rydes(['smoke', '--local', '--data-dir', dir, '--interval', '200']);
      // Assess
      expect(smoke.err).toBe('');
      expect(smoke.code).toBe(0);
      for (const stage of ['upload', 'ingest', 'transform', 'check', 'DLQs', 'cleanup']) expect(smoke.out).toMatch(new RegExp(`^  ${stage} .*`, 'm'));
      expect(smoke.out).toMatch(/manifest: 120 rides, \d+ valid, [1-9]\d* rejected/);
      expect(smoke.out).toContain('OK: smoke test passed');
      expect(await leftovers(endpoints)).toEqual({ keys: [], fanoutDlq: 0, ingestDlq: 0 });
      // doctor finds the same stack through the data dir, no URLs copied
      const doctor = await rydes(['doctor', '--local', '--data-dir', dir]);
      expect(doctor.out).toContain(`local stack at ${endpoints.s3Endpoint} and ${endpoints.sqsEndpoint}`);
      expect(doctor.out).toContain('[x] fan-out DLQ rydes-fanout-dlq exists');
    } finally {
      await stop(child);
    }
    expect(existsSync(join(dir, ENDPOINTS_FILE))).toBe(false);
  }, 120_000);

  it('exits non-zero naming the transform and its DLQ messages when the transform is broken, and still cleans up', async () => {
    // Prepare: the transform bundle fails its cold start, as a bad deploy would
    const dir = tempDir('rydes-smoke-broken-');
    const broken = join(dir, 'broken-transform.js');
    writeFileSync(broken, "throw new Error('transform broken on purpose by the smoke spec');\n");
    const { child, endpoints } = await up(dir, { ...quiet, RYDES_TRANSFORM_BUNDLE: broken }, ['--visibility-timeout', '1']);
    try {
      // Act
      const smoke = await rydes(['smoke', '--local', '--data-dir', dir, '--interval', '200', '--timeout', '120']);
      // Assess
      expect(smoke.code).toBe(1);
      expect(smoke.err).toMatch(/^rydes: smoke test FAILED: transform: 0 of \d+ CSV objects written, and fan-out DLQ holds \d+ message\(s\) of this run — see the function logs in /);
      expect(smoke.err).not.toMatch(/\n\s+at /);
      expect(smoke.out).toMatch(/^ {2}cleanup +removed \d+ object\(s\) and [1-9]\d* DLQ message\(s\) of this run/m);
      expect(await leftovers(endpoints)).toEqual({ keys: [], fanoutDlq: 0, ingestDlq: 0 });
    } finally {
      await stop(child);
    }
  }, 180_000);

  it('says how to start rydes up when none serves the data dir', async () => {
    const dir = tempDir('rydes-smoke-none-');
    const smoke = await rydes(['smoke', '--local', '--data-dir', dir]);
    expect(smoke.code).toBe(1);
    expect(smoke.err).toBe(
      `rydes: no running "rydes up" found in ${dir}: ${join(dir, ENDPOINTS_FILE)} does not exist. ` +
        `Start one with: npx rydes up --data-dir ${dir} (or pass --data-dir DIR).\n`,
    );
  });
});
