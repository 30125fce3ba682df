import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from '../src/config';
import { InvalidContextError, MissingBundleError, MissingStationsFileError } from '../src/errors';
import { allStatements, asArray, logicalId, resourceText, roleStatements, synthPipeline } from './helpers';

describe('PipelineStack with every option set', () => {
  // Prepare: a small GHCN-format catalogue, and `-c` values as the CLI passes them (strings)
  const dir = mkdtempSync(join(tmpdir(), 'rydes-infra-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const stationsFile = join(dir, 'ghcnd-stations.txt');
  writeFileSync(stationsFile, 'USW00094728  40.7789  -73.9692   39.6 NY NEW YORK CNTRL PK TWR\n');
  const { app, stack, template } = synthPipeline({
    stackName: 'rides-dev',
    destroyable: 'true',
    versioned: 'true',
    ridesPerMessage: '1',
    transformMaxConcurrency: '50',
    logLevel: 'debug',
    stationsFile,
  });
  const bucket = logicalId(template, 'AWS::S3::Bucket', 'DataBucket');
  const env = (prefix: string) => template.toJSON().Resources[logicalId(template, 'AWS::Lambda::Function', prefix)].Properties.Environment.Variables;

  it('deletes the bucket with its objects and keeps versions when asked', () => {
    const resource = template.toJSON().Resources[bucket];
    expect(resource.DeletionPolicy).toBe('Delete');
    expect(resource.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: { Ref: bucket } });
  });

  it('deletes the log groups too', () => {
    for (const prefix of ['IngestLogs', 'TransformLogs']) {
      expect(template.toJSON().Resources[logicalId(template, 'AWS::Logs::LogGroup', prefix)].DeletionPolicy).toBe('Delete');
    }
  });

  it('passes rides per message and log level to the ingest function', () => {
    expect(env('IngestFunction')).toMatchObject({ RIDES_PER_MESSAGE: '1', LOG_LEVEL: 'debug' });
  });

  it('caps transform concurrency at the configured value', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 50 } });
  });

  it('copies the catalogue to stations/ and points STATIONS_URI at it', () => {
    expect(resourceText(env('TransformFunction').STATIONS_URI)).toBe(`s3://<${bucket}>/stations/ghcnd-stations.txt`);
    const [copy] = Object.values(template.findResources('Custom::AWS'));
    const create = resourceText(copy.Properties.Create);
    expect(create).toContain('"service":"S3","action":"copyObject"');
    expect(create).toContain(`"Bucket":"<${bucket}>","Key":"stations/ghcnd-stations.txt"`);
    expect(JSON.stringify(copy.Properties.Update)).toEqual(JSON.stringify(copy.Properties.Create));
  });

  it('lets the copy read the one asset object and write stations/ only', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.PolicyName.startsWith('StationsCopy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements.map((s) => `${s.Action} ${resourceText(s.Resource).replace(/[0-9a-f]{64}/, 'HASH')}`).sort()).toEqual([
      's3:GetObject arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}/HASH.txt',
      `s3:PutObject <${bucket}.Arn>/stations/*`,
    ]);
  });

  it('starts the transform function only after the catalogue is in place', () => {
    const transform = template.toJSON().Resources[logicalId(template, 'AWS::Lambda::Function', 'TransformFunction')];
    expect(transform.DependsOn).toEqual(expect.arrayContaining([logicalId(template, 'Custom::AWS', 'StationsCopy')]));
  });

  it('names the dashboard and the Glue database after the stack', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'rides-dev' });
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: Match.objectLike({ Name: 'rides_dev' }) });
    expect(stack.stackName).toBe('rides-dev');
  });

  it('reports no unacknowledged cdk-nag AwsSolutions finding', () => {
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`)).toEqual([]);
  });

  it('allows wildcard actions only in the bucket policy CDK adds for auto-deleting objects', () => {
    // Prepare
    const autoDeleteRole = { 'Fn::GetAtt': ['CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092', 'Arn'] };
    // Act
    const wildcards = allStatements(template).filter(
      ({ statement }) => statement.Effect === 'Allow' && asArray(statement.Action).some((a) => a.includes('*')),
    );
    // Assess
    expect(wildcards).toEqual([
      {
        owner: expect.stringMatching(/^DataBucketPolicy/),
        statement: expect.objectContaining({ Principal: { AWS: autoDeleteRole }, Action: expect.arrayContaining(['s3:DeleteObject*']) }),
      },
    ]);
    expect(roleStatements(template, 'TransformRole').length).toBeGreaterThan(0);
  });
});

describe('configFromContext', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('defaults to the workshop stack name, 1,000 rides per message and retained data', () => {
    expect(configFromContext(context({}))).toMatchObject({
      stackName: 'wildrydes-ride-pipeline',
      ridesPerMessage: 1000,
      destroyable: false,
      versioned: false,
      transformMaxConcurrency: 10,
      logLevel: 'info',
      stationsFile: undefined,
    });
  });

  it.each([
    ['ridesPerMessage', '0'],
    ['ridesPerMessage', '2.5'],
    ['transformMaxConcurrency', '1'],
    ['destroyable', 'yes'],
    ['logLevel', 'verbose'],
    ['stackName', 'my_stack'],
  ])('rejects %s=%s and names the key', (key, value) => {
    expect(() => configFromContext(context({ [key]: value }))).toThrow(InvalidContextError);
    expect(() => configFromContext(context({ [key]: value }))).toThrow(`Context "${key}" is "${value}"`);
  });

  it('reads a relative stationsFile from the repository root, wherever cdk runs', () => {
    const config = configFromContext(context({ stationsFile: 'package.json' }));
    expect(config.stationsFile).toBe(join(__dirname, '../../..', 'package.json'));
  });

  it('rejects a stationsFile that does not exist', () => {
    expect(() => configFromContext(context({ stationsFile: '/nonexistent/stations.txt' }))).toThrow(MissingStationsFileError);
  });

  it('refuses to synthesize without the function bundles and says how to build them', () => {
    const empty = mkdtempSync(join(tmpdir(), 'rydes-nobundles-'));
    try {
      expect(() => synthPipeline({ bundlesDir: empty })).toThrow(MissingBundleError);
      expect(() => synthPipeline({ bundlesDir: empty })).toThrow('nx build ingest-fn');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
