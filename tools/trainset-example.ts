/*
 * The README's worked example "From rides to a training set", on generated data in NOAA's formats
 * (the real files cannot be downloaded here):
 *
 *   npx tsx --tsconfig apps/cli/tsconfig.json tools/trainset-example.ts stations DIR
 *     → DIR/ghcnd-stations.txt: the 111k catalogue of ../shared/data with GHCN-style 11-character
 *       ids (45 % `US1…`, CoCoRaHS-like), and DIR/ghcnd-inventory.txt generated for it
 *   npx tsx --tsconfig apps/cli/tsconfig.json tools/trainset-example.ts weather DIR RIDES.csv…
 *     → DIR/2018.csv.gz: NOAA's by-year CSV (no header) for every station the rides use plus 5,000
 *       others: a station reports an element on a day when its inventory covers 2018 for that
 *       element (97 % of days), 1 % of values carry a Q_FLAG, 1 % are reported twice.
 */
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { parseInventory, parseStations, type Station } from '@rydes/geo-index';
import { formatInventory, makeInventory, seededRandom } from '@rydes/geo-index/testing';
import { readFileSync } from 'node:fs';

const CATALOGUE = join(__dirname, '..', '..', 'shared', 'data', 'stations-us-111k.csv');
const YEAR = 2018;

function ghcnLine(s: Station): string {
  const elevation = (s.elevation ?? -999.9).toFixed(1).padStart(6);
  return `${s.id.padEnd(11)} ${s.latitude.toFixed(4).padStart(8)} ${s.longitude.toFixed(4).padStart(9)} ${elevation}    ${(s.name ?? '').slice(0, 30).toUpperCase()}`;
}

function stations(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const real = parseStations(readFileSync(CATALOGUE), { source: CATALOGUE });
  const random = seededRandom(14);
  const renamed = real.map((s, i) => ({ ...s, id: `${random() < 0.45 ? 'US1' : 'USC'}${String(i).padStart(8, '0')}` }));
  writeFileSync(join(dir, 'ghcnd-stations.txt'), `${renamed.map(ghcnLine).join('\n')}\n`);
  const inventory = makeInventory(renamed, seededRandom(15));
  writeFileSync(join(dir, 'ghcnd-inventory.txt'), formatInventory(inventory, renamed));
  console.log(`${dir}/ghcnd-stations.txt: ${renamed.length} stations; ghcnd-inventory.txt: ${inventory.length} lines`);
}

async function weather(dir: string, rides: string[]): Promise<void> {
  const inventory = parseInventory(readFileSync(join(dir, 'ghcnd-inventory.txt')), { elements: ['TMIN', 'TMAX', 'PRCP'] });
  const used = new Set<string>();
  for (const file of rides) {
    for await (const row of createReadStream(file).pipe(parse({ columns: true })) as AsyncIterable<Record<string, string>>) if (row.groundstation) used.add(row.groundstation);
  }
  const all = [...new Set(inventory.map((e) => e.id))];
  const random = seededRandom(16);
  for (let n = 0; n < 5000; n++) used.add(all[Math.floor(random() * all.length)]);
  const reports = new Map<string, string[]>();
  for (const e of inventory) {
    if (!used.has(e.id) || e.firstYear > YEAR || e.lastYear < YEAR) continue;
    reports.set(e.id, [...(reports.get(e.id) ?? []), e.element]);
  }
  const gzip = createGzip();
  const out = gzip.pipe(createWriteStream(join(dir, `${YEAR}.csv.gz`)));
  let rows = 0;
  for (let d = 0; d < 365; d++) {
    const date = new Date(Date.UTC(YEAR, 0, 1 + d)).toISOString().slice(0, 10).replace(/-/g, '');
    const season = Math.cos(((d - 200) / 365) * 2 * Math.PI);
    const lines: string[] = [];
    for (const [id, elements] of reports) {
      for (const element of elements) {
        if (random() >= 0.97) continue;
        const value =
          element === 'TMAX' ? Math.round(150 + 120 * season + 40 * random()) : element === 'TMIN' ? Math.round(40 + 110 * season + 40 * random()) : random() < 0.7 ? 0 : Math.round(random() * 400);
        const flag = random() < 0.01 ? 'I' : '';
        lines.push(`${id},${date},${element},${value},,${flag},7,0700\n`);
        if (random() < 0.01) lines.push(`${id},${date},${element},${value + 2},,,H,0700\n`);
      }
    }
    rows += lines.length;
    if (!gzip.write(lines.join(''))) await once(gzip, 'drain');
  }
  gzip.end();
  await once(out, 'finish');
  console.log(`${dir}/${YEAR}.csv.gz: ${rows} rows for ${reports.size} stations reporting TMIN/TMAX/PRCP in ${YEAR} (${used.size} stations asked for)`);
}

const [command, dir, ...rest] = process.argv.slice(2);
if (command === 'stations') stations(dir);
else if (command === 'weather') void weather(dir, rest);
else console.error('usage: trainset-example.ts stations DIR | weather DIR RIDES.csv…');
