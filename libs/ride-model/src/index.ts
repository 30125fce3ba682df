export * from './types';
export * from './errors';
export { parseRides, DEFAULT_MAX_DEPTH, DEFAULT_MAX_RECORD_BYTES, type ParseOptions, type RideRecords } from './parse';
export { normaliseRecord, RIDE_FIELDS, type NormalisedRecord, type RideField } from './normalise';
export { validateRide, MAX_NAME_LENGTH } from './validate';
export * from './envelope';
export * from './keys';
export * from './csv';
export * from './generate';
