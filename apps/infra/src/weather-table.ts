import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { Aws, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { athenaTrainingSql, WEATHER_ELEMENTS } from '@rydes/training-set';
import { WORKSPACE_ROOT } from './config';
import { CONTROL_TOWER_PLUGIN } from './control-tower';
import { InvalidContextError } from './errors';
import { acknowledgePrefixWildcard } from './nag-suppressions';
import type { RideTable } from './ride-table';

/** NOAA GHCN-Daily on the AWS Open Data bucket: the Parquet copy partitioned `YEAR=…/ELEMENT=…/` (not `csv/`, PITFALLS #23). */
export const GHCN_PARQUET_LOCATION = 's3://noaa-ghcn-pds/parquet/by_year/';
export const GHCN_BUCKET_ARN = 'arn:aws:s3:::noaa-ghcn-pds';
export const WEATHER_TABLE_NAME = 'ghcn_daily';
export const WORKGROUP_SUFFIX = '-training';
export const NAMED_QUERY_NAME = 'training-set';

/** Columns of the Parquet files (NOAA's CSV header, lower-cased: Glue names are lower case). */
export const WEATHER_TABLE_COLUMNS = [
  { name: 'id', type: 'string' },
  { name: 'date', type: 'string' },
  { name: 'data_value', type: 'bigint' },
  { name: 'm_flag', type: 'string' },
  { name: 'q_flag', type: 'string' },
  { name: 's_flag', type: 'string' },
  { name: 'obs_time', type: 'string' },
] as const;

/** Partition keys, projected rather than crawled: no partitions to add, ever. */
export const WEATHER_PARTITION_KEYS = [
  { name: 'year', type: 'int' },
  { name: 'element', type: 'string' },
] as const;

/** Settings read from CDK context by {@link trainingSetContext}. */
export interface TrainingSetSettings {
  /** Local `ghcnd-inventory.txt` (or CSV) deployed beside the catalogue as `INVENTORY_URI`. */
  inventoryFile?: string;
  /** `REQUIRED_ELEMENTS` of the transform; only with an inventory. */
  requiredElements?: string[];
  /** Ride years the named query reads (partition pruning); default 2018, the generator's year. */
  years: number[];
  seed: number;
  testFraction: number;
}

/**
 * Reads `inventoryFile=PATH` (relative to the repository root), `requiredElements=TMIN,TMAX,PRCP`,
 * `trainingYears=2018,2019`, `trainingSeed=0` and `testFraction=0.1` from CDK context.
 *
 * @example
 * new TrainingSet(this, 'TrainingSet', { ...trainingSetContext((k) => this.node.tryGetContext(k)), bucket, rideTable, transform });
 */
export function trainingSetContext(get: (key: string) => unknown): TrainingSetSettings {
  const inventoryRaw = get('inventoryFile');
  const inventoryFile = inventoryRaw === undefined ? undefined : resolve(WORKSPACE_ROOT, String(inventoryRaw));
  if (inventoryFile !== undefined && !existsSync(inventoryFile)) {
    throw new InvalidContextError('inventoryFile', inventoryRaw, 'the path of an existing ghcnd-inventory.txt (or CSV id,element,firstyear,lastyear)');
  }
  const elementsRaw = get('requiredElements');
  const requiredElements = elementsRaw === undefined ? undefined : String(elementsRaw).split(',').map((e) => e.trim());
  if (requiredElements && (!inventoryFile || requiredElements.some((e) => !/^[A-Z0-9]{4}$/.test(e)))) {
    throw new InvalidContextError('requiredElements', elementsRaw, 'comma-separated GHCN elements such as TMIN,TMAX,PRCP, with inventoryFile');
  }
  const yearsRaw = get('trainingYears') ?? '2018';
  const years = String(yearsRaw).split(',').map((y) => Number(y.trim()));
  if (years.some((y) => !Number.isInteger(y) || y < 1750 || y > 2100)) throw new InvalidContextError('trainingYears', yearsRaw, 'comma-separated years 1750..2100');
  const seedRaw = get('trainingSeed') ?? 0;
  const seed = Number(seedRaw);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidContextError('trainingSeed', seedRaw, 'a whole number ≥ 0');
  const fractionRaw = get('testFraction') ?? 0.1;
  const testFraction = Number(fractionRaw);
  if (!(testFraction >= 0 && testFraction <= 1)) throw new InvalidContextError('testFraction', fractionRaw, 'a number 0..1');
  return { inventoryFile, requiredElements, years, seed, testFraction };
}

export interface TrainingSetProps extends TrainingSetSettings {
  bucket: s3.IBucket;
  /** The Glue database and `ridetelemetry`: the weather table joins its database, the query reads it. */
  rideTable: RideTable;
  /** The transform function: gets `INVENTORY_URI` (and `REQUIRED_ELEMENTS`) when an inventory is deployed. */
  transform: lambda.Function;
  /** The stack's key with `kms=true`: Athena results are encrypted with it, the inventory copy may use it. */
  key?: kms.IKey;
}

/**
 * The training set on AWS: a Glue table `ghcn_daily` over NOAA's public GHCN-Daily Parquet
 * (partition projection on year × element, so a query names the partitions it reads), an Athena
 * workgroup whose results go to the data bucket under `athena-results/`, and the named query
 * `training-set` (the SQL of `@rydes/training-set`, the same as `rydes trainset`). With an
 * inventory, the file is deployed beside the catalogue under `stations/` and the transform gets
 * `INVENTORY_URI`.
 *
 * Bytes a year's query scans, ESTIMATED (no AWS account to measure): the column chunks of `id`,
 * `date`, `data_value`, `q_flag` in that year's TMIN, TMAX and PRCP partitions — about 48 MB for
 * a generated 35 M-row year written like the Open Data copy (`tools/athena-scan-estimate.ts`;
 * ~75 MB with rows in the worst order), plus `ridetelemetry`'s CSV read whole (~155 B a ride).
 * Method and assumptions: README, "On AWS".
 */
export class TrainingSet extends Construct {
  readonly workGroupName: string;
  readonly queryString: string;

  constructor(scope: Construct, id: string, props: TrainingSetProps) {
    super(scope, id);
    const databaseName = props.rideTable.databaseName;
    const table = new glue.CfnTable(this, 'WeatherTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName,
      tableInput: {
        name: WEATHER_TABLE_NAME,
        description: 'NOAA GHCN-Daily observations (AWS Open Data, Parquet by year and element); DATA_VALUE in tenths of °C / tenths of mm',
        tableType: 'EXTERNAL_TABLE',
        parameters: {
          classification: 'parquet',
          EXTERNAL: 'TRUE',
          'projection.enabled': 'true',
          'projection.year.type': 'integer',
          'projection.year.range': '1750,2100',
          'projection.element.type': 'enum',
          'projection.element.values': WEATHER_ELEMENTS.join(','),
          // The bucket's folders are upper case (YEAR=2018/ELEMENT=TMAX); Glue keys are lower case.
          'storage.location.template': `${GHCN_PARQUET_LOCATION}YEAR=\${year}/ELEMENT=\${element}/`,
        },
        partitionKeys: WEATHER_PARTITION_KEYS.map((key) => ({ ...key })),
        storageDescriptor: {
          location: GHCN_PARQUET_LOCATION,
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          columns: WEATHER_TABLE_COLUMNS.map((column) => ({ ...column })),
        },
      },
    });

    this.workGroupName = `${databaseName.replace(/_/g, '-')}${WORKGROUP_SUFFIX}`;
    const workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: 'Athena workgroup of the ride pipeline: results under athena-results/ of the data bucket',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${props.bucket.bucketName}/athena-results/`,
          encryptionConfiguration: props.key ? { encryptionOption: 'SSE_KMS', kmsKey: props.key.keyArn } : { encryptionOption: 'SSE_S3' },
        },
      },
    });
    if (!props.key) {
      Validations.of(workGroup).acknowledge({
        id: `${CONTROL_TOWER_PLUGIN}::athena_workgroup_results_encrypted_at_rest_kms_check`,
        reason:
          'kms=false (context): query results are encrypted with SSE-S3 like every other object of the data bucket. Deploy with ' +
          '--context kms=true to encrypt them with the stack key.',
      });
    }

    this.queryString = athenaTrainingSql({
      database: databaseName,
      weatherTable: WEATHER_TABLE_NAME,
      years: props.years,
      seed: props.seed,
      testFraction: props.testFraction,
    });
    const query = new athena.CfnNamedQuery(this, 'TrainingQuery', {
      name: NAMED_QUERY_NAME,
      description: `Rides joined with their station's TMIN/TMAX/PRCP of the day (years ${props.years.join(', ')}; seed ${props.seed}, test fraction ${props.testFraction}); same SQL as rydes trainset`,
      database: databaseName,
      workGroup: this.workGroupName,
      queryString: this.queryString,
    });
    query.addDependency(workGroup);
    query.addDependency(table);
    table.node.addDependency(props.rideTable);

    if (props.inventoryFile) this.deployInventory(props.inventoryFile, props);
  }

  /** Same shape as the catalogue: an asset copied to `stations/` with one CopyObject call. */
  private deployInventory(file: string, props: TrainingSetProps): void {
    const asset = new Asset(this, 'InventoryAsset', { path: file });
    const key = `stations/${basename(file)}`;
    const copy = new cr.AwsCustomResource(this, 'InventoryCopy', {
      onUpdate: {
        service: 'S3',
        action: 'copyObject',
        parameters: { Bucket: props.bucket.bucketName, Key: key, CopySource: `${asset.s3BucketName}/${asset.s3ObjectKey}` },
        physicalResourceId: cr.PhysicalResourceId.of(`${key}@${asset.assetHash}`),
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:${Aws.PARTITION}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`] }),
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.bucket.arnForObjects('stations/*')] }),
      ]),
      installLatestAwsSdk: false,
    });
    acknowledgePrefixWildcard(copy, props.bucket, 'stations/');
    if (props.key) {
      copy.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.key.keyArn] }));
    }
    props.transform.addEnvironment('INVENTORY_URI', `s3://${props.bucket.bucketName}/${key}`);
    if (props.requiredElements) props.transform.addEnvironment('REQUIRED_ELEMENTS', props.requiredElements.join(','));
    props.transform.node.addDependency(copy);
  }
}
