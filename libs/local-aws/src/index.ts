export * from './servers';
export * from './fault-proxy';
export { countRawReads, type RawReads } from './strict-s3';
export { listObjectFiles, type ObjectFile } from './object-files';
