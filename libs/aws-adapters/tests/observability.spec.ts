import { Writable } from 'node:stream';
import { ConfigError, createLogger, emfLine, emitMetrics, positiveIntEnv, requiredEnv } from '../src';

describe('emfLine', () => {
  it('declares every value as a metric of namespace Rydes with the given dimensions', () => {
    // Act
    const line = JSON.parse(emfLine({ dimensions: { Function: 'ingest-fn' }, values: { RidesIngested: 200, RidesRejected: 3 }, properties: { source: 'raw/a.json' }, timestamp: 1 }));
    // Assess
    expect(line._aws).toEqual({
      Timestamp: 1,
      CloudWatchMetrics: [{ Namespace: 'Rydes', Dimensions: [['Function']], Metrics: [{ Name: 'RidesIngested', Unit: 'Count' }, { Name: 'RidesRejected', Unit: 'Count' }] }],
    });
    expect(line).toMatchObject({ Function: 'ingest-fn', RidesIngested: 200, RidesRejected: 3, source: 'raw/a.json' });
  });

  it('writes one line per call', () => {
    const lines: string[] = [];
    emitMetrics({ dimensions: { Function: 'transform-fn' }, values: { RidesProcessed: 10 } }, { write: (l: string) => lines.push(l) });
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
  });
});

describe('createLogger', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    return { lines, destination };
  }

  it('writes JSON lines with child bindings, level by name', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'ingest-fn', destination }, {});
    logger.child({ requestId: 'r-1', source: 'raw/a.json' }).info({ rides: 5 }, 'file ingested');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', name: 'ingest-fn', requestId: 'r-1', source: 'raw/a.json', rides: 5, msg: 'file ingested' });
  });

  it('takes the level from LOG_LEVEL', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination }, { LOG_LEVEL: 'warn' });
    logger.info('hidden');
    logger.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });
});

describe('environment helpers', () => {
  it('names a missing variable', () => {
    expect(() => requiredEnv({}, 'OUTPUT_QUEUE')).toThrow(ConfigError);
    expect(() => requiredEnv({ OUTPUT_QUEUE: '  ' }, 'OUTPUT_QUEUE')).toThrow(/^OUTPUT_QUEUE is required/);
    expect(requiredEnv({ OUTPUT_QUEUE: 'https://q' }, 'OUTPUT_QUEUE')).toBe('https://q');
  });

  it('reads a positive integer or its default, and refuses anything else by name', () => {
    expect(positiveIntEnv({}, 'RIDES_PER_MESSAGE', 100)).toBe(100);
    expect(positiveIntEnv({ RIDES_PER_MESSAGE: '1' }, 'RIDES_PER_MESSAGE', 100)).toBe(1);
    expect(() => positiveIntEnv({ RIDES_PER_MESSAGE: '0' }, 'RIDES_PER_MESSAGE', 100)).toThrow('RIDES_PER_MESSAGE must be a positive integer, got "0"');
    expect(() => positiveIntEnv({ RIDES_PER_MESSAGE: '2.5' }, 'RIDES_PER_MESSAGE', 100)).toThrow(ConfigError);
  });
});
