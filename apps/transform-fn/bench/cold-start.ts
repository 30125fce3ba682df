/**
 * Transform cold start: a fresh `node` process loads the built bundle (module scope: config,
 * clients, logger) and serves its first, empty batch (station index built), once with the bundled
 * stations and once with the 111k-station CSV read from S3 via STATIONS_URI. Plain script, run by
 * `nx run transform-fn:bench`, never by the tests.
 *
 *   npx tsx apps/transform-fn/bench/cold-start.ts [--runs 5] [--catalogue /work/shared/data/stations-us-111k.csv]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createS3Client, putObject } from '@rydes/aws-adapters';
import { startLocalServers } from '@rydes/local-aws';

const ROOT = join(__dirname, '../../..');
const BUNDLES = ['ingest-fn', 'transform-fn'].map((name) => join(ROOT, 'dist/apps', name, 'main.js'));
const BUCKET = 'rides-bench';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

/** Runs in the child: times require() and the first invocation separately. */
const CHILD = `
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
const { handler } = require(process.env.BUNDLE);
const t1 = performance.now();
handler({ Records: [] }, { awsRequestId: 'bench' }).then(() => {
  const t2 = performance.now();
  process.stderr.write(JSON.stringify({ boot: t0, load: t1 - t0, firstBatch: t2 - t1, rssMB: process.memoryUsage().rss / 1e6 }) + '\\n');
  process.exit(0); // keep-alive sockets of the SDK would hold the process open
});`;

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  for (const path of BUNDLES) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run "npx nx run-many -t build -p ingest-fn transform-fn" first`);
    console.log(`bundle ${path.replace(ROOT + '/', '')}: ${statSync(path).size.toLocaleString('en-US')} bytes`);
  }
  const runs = Number(arg('runs', '5'));
  const catalogue = arg('catalogue', join(ROOT, '../shared/data/stations-us-111k.csv'));
  const local = await startLocalServers({ buckets: [BUCKET] });
  try {
    const s3 = createS3Client(local.env);
    await putObject(s3, BUCKET, 'stations/us-111k.csv', readFileSync(catalogue));
    s3.destroy();
    const cases: Array<[string, Record<string, string>]> = [
      ['bundled 11 stations', {}],
      [`${catalogue.split('/').pop()} from S3 (${(statSync(catalogue).size / 1e6).toFixed(1)} MB)`, { STATIONS_URI: `s3://${BUCKET}/stations/us-111k.csv` }],
    ];
    for (const [label, extra] of cases) {
      const samples: Array<{ boot: number; load: number; firstBatch: number; rssMB: number; wall: number }> = [];
      for (let i = 0; i < runs; i++) {
        const started = Date.now();
        // Asynchronous: s3rver runs in this process and must keep serving the child.
        const { status, stderr } = await run(process.execPath, ['--no-warnings', '-e', CHILD], {
          ...process.env, ...local.env, BUNDLE: BUNDLES[1], OUTPUT_BUCKET: BUCKET, LOG_LEVEL: 'silent', ...extra,
        });
        const last = stderr.trim().split('\n').pop() ?? '';
        if (status !== 0 || !last.startsWith('{')) throw new Error(`cold-start child failed (${status}): ${stderr}`);
        samples.push({ ...JSON.parse(last), wall: Date.now() - started });
      }
      const m = (k: 'boot' | 'load' | 'firstBatch' | 'rssMB' | 'wall') => median(samples.map((s) => s[k])).toFixed(0);
      console.log(`transform cold start, ${label}, median of ${runs}: require ${m('load')} ms + first batch (index build) ${m('firstBatch')} ms; node boot ${m('boot')} ms; process wall ${m('wall')} ms; RSS ${m('rssMB')} MB`);
    }
  } finally {
    await local.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
