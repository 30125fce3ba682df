export { SPLIT_BUCKETS, splitKey, splitBucket, testBuckets, isTest } from './split';
export {
  TRAINING_COLUMNS,
  WEATHER_COLUMNS,
  WEATHER_ELEMENTS,
  RIDE_DATE_SQL,
  QUALITY_FILTER_SQL,
  PIVOT_SQL,
  duckdbTrainingSql,
  athenaTrainingSql,
  type SplitOptions,
  type WeatherFile,
  type DuckdbTrainingOptions,
  type DuckdbTrainingSql,
  type AthenaTrainingOptions,
} from './sql';
