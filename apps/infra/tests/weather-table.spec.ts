import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { InvalidContextError } from '../src/errors';
import { GHCN_PARQUET_LOCATION, WEATHER_PARTITION_KEYS, WEATHER_TABLE_COLUMNS } from '../src/weather-table';
import { synthPipeline, type Cfn } from './helpers';

const DATABASE = 'wildrydes_ride_pipeline';

describe('the training set on AWS (default context)', () => {
  const { template } = synthPipeline();
  const tables = template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'ghcn_daily' } } });
  const weather = Object.values(tables)[0] as Cfn;
  const query = Object.values(template.findResources('AWS::Athena::NamedQuery'))[0] as Cfn;

  it('adds one Glue table ghcn_daily over the Parquet copy of GHCN-Daily, never csv/', () => {
    expect(Object.keys(tables)).toHaveLength(1);
    const input = weather.Properties.TableInput;
    expect(weather.Properties.DatabaseName).toBe(DATABASE);
    expect(input.StorageDescriptor.Location).toBe('s3://noaa-ghcn-pds/parquet/by_year/');
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    expect(JSON.stringify(input)).not.toContain('noaa-ghcn-pds/csv');
  });

  it('pins the columns and the partition keys', () => {
    const input = weather.Properties.TableInput;
    expect(input.StorageDescriptor.Columns).toEqual([
      { Name: 'id', Type: 'string' },
      { Name: 'date', Type: 'string' },
      { Name: 'data_value', Type: 'bigint' },
      { Name: 'm_flag', Type: 'string' },
      { Name: 'q_flag', Type: 'string' },
      { Name: 's_flag', Type: 'string' },
      { Name: 'obs_time', Type: 'string' },
    ]);
    expect(input.PartitionKeys).toEqual([
      { Name: 'year', Type: 'int' },
      { Name: 'element', Type: 'string' },
    ]);
    expect(WEATHER_TABLE_COLUMNS).toHaveLength(7);
    expect(WEATHER_PARTITION_KEYS).toHaveLength(2);
  });

  it('projects partitions onto the bucket layout YEAR=…/ELEMENT=… for TMIN, TMAX and PRCP', () => {
    expect(weather.Properties.TableInput.Parameters).toEqual(
      expect.objectContaining({
        'projection.enabled': 'true',
        'projection.year.type': 'integer',
        'projection.year.range': '1750,2100',
        'projection.element.type': 'enum',
        'projection.element.values': 'TMIN,TMAX,PRCP',
        'storage.location.template': `${GHCN_PARQUET_LOCATION}YEAR=\${year}/ELEMENT=\${element}/`,
      }),
    );
  });

  it('adds a workgroup whose encrypted results go to athena-results/ of the data bucket', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'wildrydes-ride-pipeline-training',
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^DataBucket') }, '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      }),
    });
  });

  it('adds the named query training-set in that workgroup, reading ridetelemetry and ghcn_daily for the ride years only', () => {
    expect(query.Properties).toEqual(expect.objectContaining({ Name: 'training-set', Database: DATABASE, WorkGroup: 'wildrydes-ride-pipeline-training' }));
    const sql: string = query.Properties.QueryString;
    expect(sql).toContain(`FROM "${DATABASE}"."ridetelemetry"`);
    expect(sql).toContain(`FROM "${DATABASE}"."ghcn_daily"`);
    expect(sql).toContain('year IN (2018)');
    expect(sql).toContain("element IN ('TMIN', 'TMAX', 'PRCP')");
    expect(sql).toContain('fieldservice, distance, healthpoints, magicpoints, tmin_c, tmax_c, prcp_mm, name, statustime, groundstation');
    expect(sql).toContain('split_bucket < 100'); // seed 0, test fraction 0.1
    expect(query.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/WorkGroup/), expect.stringMatching(/WeatherTable/)]));
  });

  it('leaves the transform without INVENTORY_URI when no inventory is given', () => {
    const transform = Object.values(template.findResources('AWS::Lambda::Function')).find((f: Cfn) => f.Properties?.Environment?.Variables?.OUTPUT_BUCKET) as Cfn;
    expect(transform.Properties.Environment.Variables.INVENTORY_URI).toBeUndefined();
  });
});

describe('the training set on AWS with inventoryFile, trainingYears and requiredElements', () => {
  const dir = mkdtempSync(join(tmpdir(), 'infra-inventory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inventory = join(dir, 'ghcnd-inventory.txt');
  writeFileSync(inventory, 'USW00094728  40.7789  -73.9692 TMAX 1869 2024\n');

  it('deploys the inventory beside the catalogue and passes INVENTORY_URI and REQUIRED_ELEMENTS', () => {
    const { app, stack, template } = synthPipeline({ inventoryFile: inventory, requiredElements: 'TMAX,PRCP', trainingYears: '2018,2019', testFraction: '0.25' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          INVENTORY_URI: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^DataBucket') }, '/stations/ghcnd-inventory.txt']] },
          REQUIRED_ELEMENTS: 'TMAX,PRCP',
        }),
      },
    });
    const copies = Object.values(template.findResources('Custom::AWS')).map((r) => JSON.stringify(r));
    expect(copies.filter((c) => c.includes('copyObject') && c.includes('stations/ghcnd-inventory.txt'))).toHaveLength(1);
    const sql = (Object.values(template.findResources('AWS::Athena::NamedQuery'))[0] as Cfn).Properties.QueryString as string;
    expect(sql).toContain('year IN (2018, 2019)');
    expect(sql).toContain('split_bucket < 250');
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`)).toEqual([]);
  });

  it.each([
    [{ inventoryFile: join(dir, 'missing.txt') }, 'inventoryFile'],
    [{ requiredElements: 'TMAX' }, 'requiredElements'],
    [{ trainingYears: '2018,19' }, 'trainingYears'],
    [{ testFraction: '2' }, 'testFraction'],
  ])('refuses bad context %j, naming the key', (context, key) => {
    expect(() => synthPipeline(context)).toThrow(InvalidContextError);
    expect(() => synthPipeline(context)).toThrow(`Context "${key}"`);
  });
});
