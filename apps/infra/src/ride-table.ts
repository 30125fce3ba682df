import { Aws } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * The processed/ CSV columns in file order with their Athena types (ARCHITECTURE.md). The
 * first nine match the workshop's table position by position.
 */
export const RIDE_TABLE_COLUMNS = [
  { name: 'distance', type: 'double' },
  { name: 'healthpoints', type: 'int' },
  { name: 'latitude', type: 'double' },
  { name: 'longitude', type: 'double' },
  { name: 'magicpoints', type: 'int' },
  { name: 'name', type: 'string' },
  { name: 'statustime', type: 'string' },
  { name: 'fieldservice', type: 'int' },
  { name: 'groundstation', type: 'string' },
  { name: 'groundstation_distance_km', type: 'double' },
  { name: 'source', type: 'string' },
  { name: 'ride_index', type: 'bigint' },
] as const;

export const RIDE_TABLE_NAME = 'ridetelemetry';

export interface RideTableProps {
  bucket: s3.IBucket;
  /** Glue database name: lower-case letters, digits and underscores. */
  databaseName: string;
}

/**
 * Glue database and the `ridetelemetry` table over `processed/`, so Athena queries run with no DDL.
 *
 * SerDe: OpenCSVSerde, because the transform writes RFC 4180 CSV where a quoted `name` may hold
 * commas; LazySimpleSerDe splits on every comma and would shift the columns of such rows.
 * OpenCSVSerde cannot read an empty field as a number, and `fieldservice` is empty when the input
 * had none: `use.null.for.invalid.data` makes it NULL. The files are machine-written from
 * validated rides, so that empty field is the only invalid number the table can meet.
 */
export class RideTable extends Construct {
  readonly databaseName: string;
  readonly tableName = RIDE_TABLE_NAME;

  constructor(scope: Construct, id: string, props: RideTableProps) {
    super(scope, id);
    this.databaseName = props.databaseName;

    const database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: props.databaseName, description: 'Ride telemetry joined with GHCN weather stations' },
    });

    const table = new glue.CfnTable(this, 'Table', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: props.databaseName,
      tableInput: {
        name: RIDE_TABLE_NAME,
        description: 'processed/ CSV written by the transform function, one object per fan-out message',
        tableType: 'EXTERNAL_TABLE',
        parameters: {
          classification: 'csv',
          'skip.header.line.count': '1',
          'use.null.for.invalid.data': 'true',
          EXTERNAL: 'TRUE',
        },
        storageDescriptor: {
          location: `s3://${props.bucket.bucketName}/processed/`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: {
            serializationLibrary: 'org.apache.hadoop.hive.serde2.OpenCSVSerde',
            // No escapeChar: the default ('"') reads RFC 4180's doubled quotes; a backslash
            // escape would mangle names that contain a backslash.
            parameters: { separatorChar: ',', quoteChar: '"' },
          },
          columns: RIDE_TABLE_COLUMNS.map((column) => ({ ...column })),
        },
      },
    });
    table.node.addDependency(database);
  }
}
