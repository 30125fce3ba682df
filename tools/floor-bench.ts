/**
 * Floor bench (not a test): the per-ride chain of the pipeline — parse (64 KiB chunks) →
 * validate → chunk → encode message → the transform's body → CSV — in one process with the
 * project's own code, no AWS and no I/O, on the seeded sample `rydes run` generates (N rides,
 * seed 1, pretty-printed JSON array). The chain itself is tools/floor-chain.ts; this driver
 * bundles it with esbuild as the functions' bundles are built (so the code measured is the code
 * they run: no tsx per-module compilation), writes the sample once, and runs the bundle in
 * `--processes` separate processes one after the other, `--passes` passes each.
 *
 * Why separate processes and a median: the same code's best pass varied 0.8–1.7 s between
 * processes. Each process prints its passes and the best warm one (pass 1 compiles the chain);
 * the verdict is the median over processes of those best passes, printed with their spread, the
 * load average, the main thread's run-queue wait and the two reference loops (see
 * floor-chain.ts) that show how fast the machine was at that moment. The last line is
 * machine-readable (`floor-json {…}`) for `cli:bench`, which prints it beside the `rydes run`
 * figures.
 *
 *   npx nx run transform-fn:bench-floor
 *   npx tsx --tsconfig apps/transform-fn/tsconfig.json tools/floor-bench.ts \
 *     [--rides 200000] [--processes 5] [--passes 3] [--stations file.csv] [--rides-per-message N] [--baseline no] [--against DIR]
 *
 * Rides per message default to the pipeline's (DEFAULT_RIDES_PER_MESSAGE). `--baseline yes`
 * (the default) runs one more process: a warm-up pass, then the generic chain this one replaced
 * (see floor-chain.ts), then the parser and the validator alone, all printed. `--against DIR`
 * (another checkout of this repository, e.g. a worktree of the old main) builds this chain over
 * that checkout's libs and transform-message.ts too, and alternates the two builds' processes:
 * a before/after pair from one sitting.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { build as esbuild } from 'esbuild';
import { DEFAULT_RIDES_PER_MESSAGE, generateRides, writeRides } from '@rydes/ride-model';
import { args } from './cli-process';
import { STAGES, type PassFigures } from './floor-figures';

const flags = args({ rides: '200000', processes: '5', passes: '3', 'rides-per-message': String(DEFAULT_RIDES_PER_MESSAGE), stations: '', baseline: 'yes', against: '' });
const RIDES = Number(flags.rides);
const PROCESSES = Number(flags.processes);
const PASSES = Number(flags.passes);
const ROOT = resolve(__dirname, '..');
const TARGET = 1.2 * (RIDES / 200_000);


/** A `floor-pass` line of floor-chain.ts. */
type Pass = PassFigures;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = () => loadavg()[0].toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);
const perCore = (rides: number, seconds: number) => Math.round(rides / seconds).toLocaleString('en-US');

function stagesText(p: Pass): string {
  const used = STAGES.filter((s) => (p.chain === 'current' ? !['decode', 'nearest + row', 'csv'].includes(s) : s !== 'body → csv'));
  return used.map((s) => `${s} ${f2(p.stages[s])}`).join(', ');
}

function lines(out: string, tag: string): unknown[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => JSON.parse(l.slice(tag.length + 1)));
}

/** One build of the chain: its bundle, and each process's passes. */
interface Build {
  name: string;
  root: string;
  bundle: string;
  processes: { passes: Pass[]; best: Pass; load: string }[];
}

/**
 * The chain of the checkout at `root` as one esbuild bundle, built as @nx/esbuild builds
 * transform-fn and ingest-fn (their project.json files). For another checkout (`--against`), this
 * file's chain is built over that checkout's libs and transform-message.ts.
 */
async function bundleOf(root: string, outfile: string): Promise<void> {
  const transformMessage = join(root, 'apps/transform-fn/src/transform-message.ts');
  await esbuild({
    entryPoints: [join(ROOT, 'tools/floor-chain.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    tsconfig: join(root, 'apps/transform-fn/tsconfig.app.json'),
    outfile,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [{ name: 'checkout', setup: (b) => b.onResolve({ filter: /\/transform-message$/ }, () => ({ path: transformMessage })) }],
  });
}

function summarise(build: Build, baseline: Pass | undefined, loadStart: number): Record<string, unknown> {
  const { processes } = build;
  const bests = processes.map((p) => p.best.cpuSeconds);
  const warmAll = processes.flatMap((p) => (p.passes.length > 1 ? p.passes.slice(1) : p.passes).map((x) => x.cpuSeconds));
  const floor = median(bests);
  // The stages of the process whose best pass is the median (the lower middle one for an even count).
  const middle = [...processes].sort((a, b) => a.best.cpuSeconds - b.best.cpuSeconds)[(processes.length - 1) >> 1].best;
  const met = bests.filter((b) => b <= TARGET).length;
  console.log(
    `  ${flags.against ? `${build.name} (${build.root}): ` : ''}floor: median of ${processes.length} processes' best warm passes ${f2(floor)} s CPU (spread ${f2(Math.min(...bests))}–${f2(Math.max(...bests))} s; every warm pass: median ${f2(median(warmAll))}, ` +
      `${f2(Math.min(...warmAll))}–${f2(Math.max(...warmAll))} s), ${perCore(RIDES, floor)} rides/s/core` +
      (baseline ? `, ${(baseline.cpuSeconds / floor).toFixed(1)}× less CPU than the baseline` : '') +
      `; target ≤ ${f2(TARGET)} s (≥ 170,000 rides/s/core): ${floor <= TARGET ? 'met' : 'missed'} (by the median; ${met} of ${processes.length} processes' best passes within it); load ${loadStart.toFixed(1)} → ${load()}`,
  );
  return {
    rides: RIDES,
    cpuSeconds: +floor.toFixed(3),
    ridesPerCoreSecond: Math.round(RIDES / floor),
    stages: Object.fromEntries(STAGES.map((s) => [s, +middle.stages[s].toFixed(3)])),
    processes: processes.length,
    passes: PASSES,
    bestPasses: bests.map((b) => +b.toFixed(3)),
    spread: [+Math.min(...bests).toFixed(3), +Math.max(...bests).toFixed(3)],
    target: TARGET,
    met: floor <= TARGET,
    load: [+loadStart.toFixed(1), +loadavg()[0].toFixed(1)],
    ...(baseline && { baselineCpuSeconds: +baseline.cpuSeconds.toFixed(3) }),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rydes-floor-'));
  try {
    const builds: Build[] = [];
    if (flags.against) {
      const root = resolve(flags.against);
      if (!existsSync(join(root, 'apps/transform-fn/src/transform-message.ts'))) throw new Error(`--against ${root}: not a checkout of this repository (no apps/transform-fn/src/transform-message.ts)`);
      builds.push({ name: 'against', root, bundle: join(dir, 'against.js'), processes: [] });
    }
    builds.push({ name: 'this', root: ROOT, bundle: join(dir, 'this.js'), processes: [] });
    for (const build of builds) await bundleOf(build.root, build.bundle);
    const sample = join(dir, 'sample.json');
    await pipeline(writeRides(generateRides({ count: RIDES, seed: 1 }), { shape: 'array', gzip: false }), createWriteStream(sample));
    const child = (bundle: string, extra: string[]) =>
      execFileSync(process.execPath, [bundle, '--sample', sample, '--rides-per-message', flags['rides-per-message'], ...(flags.stations ? ['--stations', resolve(flags.stations)] : []), ...extra], { encoding: 'utf8', maxBuffer: 1 << 24 });

    const loadStart = loadavg()[0];
    let header = false;
    let outputSha256: string | undefined;
    // With --against, the two builds' processes alternate, so that both see the same moments of a shared machine.
    for (let k = 1; k <= PROCESSES; k++) {
      for (const build of builds) {
        const loadNow = load();
        const out = child(build.bundle, ['--passes', String(PASSES)]);
        if (!header) {
          const info = lines(out, 'floor-process')[0] as { stations: number; bytes: number; chunkBytes: number; ridesPerMessage: number; node: string };
          console.log(
            `floor bench: N = ${RIDES.toLocaleString('en-US')} rides (seed 1, ${(info.bytes / 1e6).toFixed(1)} MB pretty JSON array), ${info.ridesPerMessage} rides/message, ` +
              `${info.stations.toLocaleString('en-US')} stations, ${info.chunkBytes / 1024} KiB chunks, Node ${info.node}; esbuild bundle of tools/floor-chain.ts, ` +
              `${PROCESSES} processes × ${PASSES} passes${flags.against ? ' of each build, alternating' : ''}, ${require('node:os').availableParallelism()} cores`,
          );
          header = true;
        }
        const passes = lines(out, 'floor-pass') as Pass[];
        for (const p of passes) if (p.rides !== RIDES || p.valid !== RIDES) throw new Error(`pass ${p.pass}: ${p.rides} rides, ${p.valid} valid, expected ${RIDES}`);
        // Every process of either build must write the same bodies and CSVs.
        const sha = passes[0].outputSha256;
        if (outputSha256 === undefined) outputSha256 = sha;
        else if (sha !== outputSha256) throw new Error(`${build.name}, process ${k}: its bodies and CSVs hash to ${sha}, an earlier process's to ${outputSha256}`);
        const warm = passes.length > 1 ? passes.slice(1) : passes;
        const best = warm.reduce((a, b) => (b.cpuSeconds < a.cpuSeconds ? b : a));
        build.processes.push({ passes, best, load: loadNow });
        const label = flags.against ? `${build.name}, process ${k}` : `process ${k}`;
        console.log(`  ${label} (load ${loadNow}): passes ${passes.map((p) => f2(p.cpuSeconds)).join(' / ')} s CPU; best warm pass ${best.pass}: ${f2(best.cpuSeconds)} s (${stagesText(best)}), ${perCore(best.rides, best.cpuSeconds)} rides/s/core`);
        console.log(
          `    best pass's threads: main ${f2(best.mainSeconds)} s on CPU, ${f2(best.mainWaitSeconds)} s waiting for one; other threads ${f2(best.otherThreadsSeconds)} s; GC ${best.gcPauses} pauses, ${f3(best.gcSeconds)} s; ` +
            `wall ${f2(best.wallSeconds)} s; reference loops before it: memory ${f3(best.memoryReferenceSeconds)} s, registers ${f3(best.registerReferenceSeconds)} s (memory before each pass: ${passes.map((p) => f3(p.memoryReferenceSeconds)).join(' / ')})`,
        );
      }
    }

    let baseline: Pass | undefined;
    if (flags.baseline !== 'no') {
      const out = child(builds[builds.length - 1].bundle, ['--baseline', 'yes']);
      baseline = (lines(out, 'floor-pass') as Pass[])[0];
      const alone = lines(out, 'floor-standalone')[0] as { parse: number; validate: number; rides: number };
      console.log(`  baseline (generic chain, one more process, after a warm-up pass of this one): CPU ${f2(baseline.cpuSeconds)} s (${stagesText(baseline)}), ${perCore(baseline.rides, baseline.cpuSeconds)} rides/s/core`);
      console.log(`  standalone in that process, same bytes: parse ${f2(alone.parse)} s CPU, validate ${f2(alone.validate)} s CPU (${(alone.rides / alone.validate / 1e6).toFixed(2)} M rides/s)`);
    }
    console.log(`  output: the bodies and CSVs of every process${flags.against ? ' of both builds' : ''} are the same bytes (SHA-256 ${outputSha256})`);
    let summary: Record<string, unknown> = {};
    for (const build of builds) summary = summarise(build, build.name === 'this' ? baseline : undefined, loadStart);
    console.log(`floor-json ${JSON.stringify(summary)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
