import { parseAnyGhcnLine, parseGhcnLine, plainDecimal } from '../src/catalogue/ghcn';
import { parseAnyInventoryLine, parseInventoryLine } from '../src/inventory';
import { seededRandom } from '../src/testing';

/** The value or the error message: the fast path must answer exactly what the checked path answers. */
function outcome(parse: () => unknown): unknown {
  try {
    return parse();
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

/** A copy of `line` with a few characters replaced, inserted or removed (blanks, digits, signs, points, letters). */
function mutate(line: string, random: () => number): string {
  const alphabet = ' 0123456789-+.eEXA\t\u00a0';
  let out = line;
  const edits = 1 + Math.floor(random() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (out.length + 1));
    const c = alphabet[Math.floor(random() * alphabet.length)];
    const kind = random();
    out = kind < 0.6 ? out.slice(0, at) + c + out.slice(at + 1) : kind < 0.8 ? out.slice(0, at) + c + out.slice(at) : out.slice(0, at) + out.slice(at + 1);
  }
  return out;
}

describe('plainDecimal: the fast number reader', () => {
  it('equals Number() on plain decimals and refuses every other shape', () => {
    const random = seededRandom(11);
    for (let n = 0; n < 20_000; n++) {
      const value = (random() - 0.5) * 10 ** Math.floor(random() * 6);
      const decimals = Math.floor(random() * 7);
      let text = value.toFixed(decimals);
      if (random() < 0.1) text = text.replace(/^0\./, '.').replace(/^-0\./, '-.');
      if (random() < 0.1 && !text.startsWith('-')) text = `+${text}`;
      const padded = ' '.repeat(Math.floor(random() * 3)) + text + ' '.repeat(Math.floor(random() * 3));
      expect(plainDecimal(padded, 0, padded.length)).toBe(Number(padded));
    }
    for (const text of ['', '   ', '-', '+', '.', '1e5', '1.2.3', '--1', '1-', '0x10', '1 2', 'nan', '1,5', '12345678901234567']) {
      expect(plainDecimal(text, 0, text.length)).toBeNaN();
    }
  });
});

describe('the fast line paths answer exactly what the fully checked paths answer', () => {
  const random = seededRandom(12);
  const station = () => {
    const id = `US${random() < 0.5 ? '1' : 'C'}${String(Math.floor(random() * 1e8)).padStart(8, '0')}`;
    const lat = ((random() - 0.5) * 180).toFixed(4).padStart(8);
    const lon = ((random() - 0.5) * 360).toFixed(4).padStart(9);
    return { id, lat, lon };
  };

  it('ghcnd-stations.txt lines, valid and mutated', () => {
    for (let n = 0; n < 20_000; n++) {
      const { id, lat, lon } = station();
      const elevation = random() < 0.1 ? '-999.9' : (random() * 3000 - 100).toFixed(1).padStart(6);
      const valid = `${id} ${lat} ${lon} ${elevation} NY ${random() < 0.9 ? 'NEW YORK CNTRL PK TWR' : ''}`.trimEnd();
      const line = random() < 0.5 ? valid : mutate(valid, random);
      expect(outcome(() => parseGhcnLine(line, 'x', n))).toEqual(outcome(() => parseAnyGhcnLine(line, 'x', n)));
    }
  });

  it('ghcnd-inventory.txt lines, valid and mutated', () => {
    for (let n = 0; n < 20_000; n++) {
      const { id, lat, lon } = station();
      const first = 1850 + Math.floor(random() * 170);
      const last = first + Math.floor(random() * 20) - 2;
      const valid = `${id} ${lat} ${lon} ${['TMAX', 'TMIN', 'PRCP', 'SN32'][n % 4]} ${first} ${last}${random() < 0.1 ? '  ' : ''}`;
      const line = random() < 0.5 ? valid : mutate(valid, random);
      expect(outcome(() => parseInventoryLine(line, 'x', n))).toEqual(outcome(() => parseAnyInventoryLine(line, 'x', n)));
    }
  });
});
