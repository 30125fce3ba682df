export * from './servers';
export * from './fault-proxy';
