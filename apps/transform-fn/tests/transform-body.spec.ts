import { Chunker, decodeMessage, encodeMessage, EnvelopeError, generateRides, seededRandom, validateRide, type FanoutMessage, type Ride, type SourceRef } from '@rydes/ride-model';
import { aRide, HOSTILE_NAMES } from '@rydes/ride-model/testing';
import { DEFAULT_STATIONS, StationLookup } from '@rydes/geo-index';
import { transformBody, transformMessage } from '../src/transform-message';

const index = new StationLookup(DEFAULT_STATIONS);
// The hostile names a ride may have (the others are rejected at ingest: control characters, unpaired surrogates).
const NAMES = HOSTILE_NAMES.filter((name) => validateRide(aRide({ name })).ok);
const source: SourceRef = { bucket: 'rydes-local', key: 'raw/rides, "quoted".json', etag: '"0123456789abcdef"' };

function bodies(kept: Array<[number, Ride]>, version: 1 | 2): string[] {
  const chunker = new Chunker({ source, ridesPerMessage: 25, version });
  const out: FanoutMessage[] = [];
  for (const [i, ride] of kept) out.push(...chunker.push(i, ride));
  const last = chunker.flush();
  if (last) out.push(last);
  return out.map(encodeMessage);
}

describe('transformBody', () => {
  it.each([1, 2] as const)('writes the same object as decodeMessage + transformMessage for version-%i bodies, plain and hostile rides', (version) => {
    // Prepare: generated rides with gaps, then a share with hostile names and full-precision numbers
    const random = seededRandom(version);
    const kept = [...generateRides({ count: 2000, seed: 3 })]
      .map((r, i): [number, Ride] => [i, i < 1000 || random() < 0.7 ? r : aRide({ name: NAMES[i % NAMES.length], latitude: (random() - 0.5) * 180 })])
      .filter(([i]) => i % 11 !== 5);

    // Act + Assess
    for (const body of bodies(kept, version)) {
      const message = decodeMessage(body);
      expect(transformBody(body, index)).toEqual({ ...transformMessage(message, index), source: message.source });
    }
  });

  it('throws decodeMessage\'s EnvelopeError for a body that is not a valid message', () => {
    const body = encodeMessage({ v: 1, source, chunk: 0, firstIndex: 0, rides: [aRide()] }).replace('"latitude":40.749167', '"latitude":91');
    expect(() => transformBody(body, index)).toThrow(EnvelopeError);
    expect(() => transformBody(body, index)).toThrow(/rides\[0\] \(ride_index 0\) is invalid: latitude: 91 is outside \[-90, 90\]/);
  });
});
