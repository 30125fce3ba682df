import type { CloudFormationClient, Stack } from '@aws-sdk/client-cloudformation';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { RydesCliError } from '../errors';
import type { LocalStack } from './local-stack';

/*
 * How the CLI reaches a stack: a deployed one through its CloudFormation outputs (after checking
 * that the SDK has a region and credentials), a `rydes up` one through the endpoints.json it
 * publishes in its data dir.
 */

/**
 * Output keys of the deployed stack (apps/infra/src/pipeline-stack.ts `OUTPUT_KEYS`); apps do not
 * import each other, so the names are repeated here and the infra tests pin them.
 */
export interface StackOutputs {
  BucketName: string;
  FanoutQueueUrl: string;
  FanoutDlqUrl: string;
  IngestDlqUrl: string;
  IngestFunctionName: string;
  TransformFunctionName: string;
  DashboardUrl?: string;
  GlueTable?: string;
  AlertTopicArn?: string;
}

const REQUIRED_OUTPUTS = ['BucketName', 'FanoutQueueUrl', 'FanoutDlqUrl', 'IngestDlqUrl', 'IngestFunctionName', 'TransformFunctionName'] as const;

/** No CloudFormation stack of that name in the region (or no access to it). */
export class StackNotFoundError extends RydesCliError {
  override name = 'StackNotFoundError';
  constructor(readonly stackName: string, detail: string) {
    super(`stack ${stackName}: ${detail}. Deploy it with "npx nx deploy infra" or pass --stack NAME and --region.`);
  }
}

/** DescribeStacks refused or failed: wrong, expired or insufficient credentials, or no network. */
export class AwsAccessError extends RydesCliError {
  override name = 'AwsAccessError';
  constructor(readonly stackName: string, cause: Error) {
    super(
      `cannot read stack ${stackName}: ${cause.name}: ${cause.message}. Check that your credentials are current and ` +
        `allow cloudformation:DescribeStacks (aws sts get-caller-identity), and the region (--region or AWS_REGION).`,
    );
  }
}

/** How to give the AWS SDK (and the AWS CLI, and CDK) credentials; printed when it finds none. */
export const CREDENTIALS_HELP = [
  'Provide them one of these ways:',
  '  aws configure                                  # an access key, saved as the default profile',
  '  aws configure sso; export AWS_PROFILE=NAME     # IAM Identity Center (SSO); later "aws sso login --profile NAME"',
  '  export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… [AWS_SESSION_TOKEN=…]',
].join('\n');

/** How to give the AWS SDK a region; printed when it finds none. */
export const REGION_HELP =
  'Set one: export AWS_REGION=eu-west-1 (or "region = eu-west-1" in your profile in ~/.aws/config, which "aws configure" writes; rydes also takes --region).';

/** No credentials or no region for a command that talks to AWS. */
export class AwsSetupError extends RydesCliError {
  override name = 'AwsSetupError';
  /** sysexits EX_CONFIG: the machine's configuration, not the command line, is missing something. */
  override readonly exitCode = 78;
  constructor(readonly missing: 'credentials' | 'region', detail: string) {
    super(
      missing === 'region'
        ? `no AWS region (${detail}). ${REGION_HELP}`
        : `no AWS credentials (${detail}; the SDK looked at AWS_ACCESS_KEY_ID, AWS_PROFILE and ~/.aws, SSO and the instance role).\n${CREDENTIALS_HELP}`,
    );
  }
}

/**
 * Resolves the region and credentials the way every AWS call of the command will, before any
 * call: a missing one becomes an {@link AwsSetupError} saying how to provide it, instead of the
 * SDK's bare "Region is missing" / "Could not load credentials from any providers" in the middle
 * of a checklist. Does not call AWS (expired or wrong credentials surface at the first call).
 * @example
 * await checkAwsSetup(new CloudFormationClient({}));
 */
export async function checkAwsSetup(client: CloudFormationClient): Promise<void> {
  try {
    await client.config.region();
  } catch (err) {
    throw new AwsSetupError('region', (err as Error).message);
  }
  try {
    await client.config.credentials();
  } catch (err) {
    throw new AwsSetupError('credentials', (err as Error).message);
  }
}

/** The stack exists but lacks an output the CLI needs: it was deployed from another version. */
export class StackOutputMissingError extends RydesCliError {
  override name = 'StackOutputMissingError';
  constructor(readonly stackName: string, readonly output: string) {
    super(`stack ${stackName} has no output ${output}. Redeploy it from this repository: npx nx deploy infra.`);
  }
}

/**
 * The stack's outputs by key, from CloudFormation DescribeStacks.
 * @example
 * const outputs = await stackOutputs(new CloudFormationClient({}), 'wildrydes-ride-pipeline');
 * outputs.BucketName; // 'wildrydes-ride-pipeline-databucket…'
 */
export async function stackOutputs(cloudformation: CloudFormationClient, stackName: string): Promise<StackOutputs> {
  let stack: Stack | undefined;
  try {
    // Loaded when a deployed stack is asked for: the CLI loads this file for every command (`rydes run` too).
    const { DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
    stack = (await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (err) {
    const error = err as Error;
    if (error.name === 'ValidationError' && /does not exist/.test(error.message)) throw new StackNotFoundError(stackName, 'does not exist');
    if (error.name === 'CredentialsProviderError') throw new AwsSetupError('credentials', error.message);
    if (/Region is missing/.test(error.message)) throw new AwsSetupError('region', error.message);
    throw new AwsAccessError(stackName, error);
  }
  if (!stack) throw new StackNotFoundError(stackName, 'does not exist');
  const outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  for (const key of REQUIRED_OUTPUTS) if (!outputs[key]) throw new StackOutputMissingError(stackName, key);
  return outputs as unknown as StackOutputs;
}

/** `rydes up`'s data dir when none is given, relative to the working directory (git-ignored). */
export const DEFAULT_DATA_DIR = '.rydes';
/** Written by a running `rydes up` into its data dir, removed when it stops. */
export const ENDPOINTS_FILE = 'endpoints.json';

/** What `rydes up` publishes in `<data dir>/endpoints.json` for the other commands. */
export interface EndpointsFile {
  version: 1;
  pid: number;
  startedAt: string;
  region: string;
  s3Endpoint: string;
  sqsEndpoint: string;
  lambdaEndpoint: string;
  bucket: string;
  queues: { fanout: string; fanoutDlq: string; ingestDlq: string };
  logDir: string;
}

/** No running `rydes up` behind a data dir. */
export class LocalStackNotRunningError extends RydesCliError {
  override name = 'LocalStackNotRunningError';
  constructor(readonly dataDir: string, detail: string) {
    super(`no running "rydes up" found in ${shownDir(dataDir)}: ${detail}. Start one with: npx rydes up${upFlag(dataDir)} (or pass --data-dir DIR).`);
  }
}

/** Another `rydes up` already serves this data dir. */
export class DataDirBusyError extends RydesCliError {
  override name = 'DataDirBusyError';
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`${dataDir} is in use by another "rydes up" (pid ${pid}). Stop it first, or pass another --data-dir.`);
  }
}

/** A data dir as the user would type it: relative below the working directory, absolute elsewhere. */
export function shownDir(dataDir: string): string {
  const shown = relative(process.cwd(), resolve(dataDir));
  return shown === '' ? '.' : shown.startsWith('..') ? resolve(dataDir) : shown;
}

export function upFlag(dataDir: string): string {
  return resolve(dataDir) === resolve(DEFAULT_DATA_DIR) ? '' : ` --data-dir ${shownDir(dataDir)}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The endpoints of the `rydes up` serving `dataDir`; throws {@link LocalStackNotRunningError}
 * when there is none or its process has gone.
 * @example
 * const endpoints = readEndpointsFile('.rydes');
 * createS3Client(localClientEnv(endpoints));
 */
export function readEndpointsFile(dataDir: string): EndpointsFile {
  const file = join(dataDir, ENDPOINTS_FILE);
  let endpoints: EndpointsFile;
  try {
    endpoints = JSON.parse(readFileSync(file, 'utf8')) as EndpointsFile;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LocalStackNotRunningError(dataDir, code === 'ENOENT' ? `${file} does not exist` : `${file} is unreadable (${(err as Error).message})`);
  }
  if (endpoints.version !== 1 || !endpoints.s3Endpoint || !endpoints.sqsEndpoint) {
    throw new LocalStackNotRunningError(dataDir, `${file} is not an endpoints file of this rydes version`);
  }
  if (!alive(endpoints.pid)) throw new LocalStackNotRunningError(dataDir, `the process that wrote ${file} (pid ${endpoints.pid}) has stopped`);
  return endpoints;
}

/**
 * Publishes a started stack's endpoints in `<dataDir>/endpoints.json` (atomically) and returns
 * a function that removes the file again. Refuses a data dir another live `rydes up` serves.
 * @example
 * const unpublish = writeEndpointsFile('.rydes', stack);
 */
export function writeEndpointsFile(dataDir: string, stack: LocalStack): () => void {
  const file = join(dataDir, ENDPOINTS_FILE);
  const endpoints: EndpointsFile = {
    version: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    region: stack.servers.region,
    s3Endpoint: stack.servers.s3Endpoint,
    sqsEndpoint: stack.servers.sqsEndpoint,
    lambdaEndpoint: stack.lambdaEndpoint,
    bucket: stack.bucket,
    queues: { fanout: stack.queues.fanout.url, fanoutDlq: stack.queues.fanoutDlq.url, ingestDlq: stack.queues.ingestDlq.url },
    logDir: stack.logDir,
  };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(endpoints, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return () => {
    try {
      const current = JSON.parse(readFileSync(file, 'utf8')) as EndpointsFile;
      if (current.pid === process.pid) rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
  };
}

/** Refuses to start a second `rydes up` on a data dir a live one serves. */
export function assertDataDirFree(dataDir: string): void {
  const file = join(dataDir, ENDPOINTS_FILE);
  if (!existsSync(file)) return;
  try {
    const { pid } = JSON.parse(readFileSync(file, 'utf8')) as EndpointsFile;
    if (pid !== process.pid && alive(pid)) throw new DataDirBusyError(dataDir, pid);
  } catch (err) {
    if (err instanceof DataDirBusyError) throw err;
  }
}

/**
 * Environment for AWS SDK clients, the AWS CLI (v1 and v2) and boto3 talking to a local stack:
 * endpoints, s3rver's fixed keys, the region under both names (boto3 and CLI v1 read only
 * AWS_DEFAULT_REGION) and checksums only where an operation requires them — recent CLIs and
 * SDKs otherwise upload aws-chunked bodies that s3rver stores frames and all (PITFALLS #1).
 * @example
 * createS3Client(localClientEnv(readEndpointsFile('.rydes')));
 */
export function localClientEnv(endpoints: Pick<EndpointsFile, 's3Endpoint' | 'sqsEndpoint' | 'region'>): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoints.s3Endpoint,
    AWS_ENDPOINT_URL_SQS: endpoints.sqsEndpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: endpoints.region,
    AWS_DEFAULT_REGION: endpoints.region,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
  };
}

/**
 * Environment for SDK clients of a `rydes up` stack: the endpoints given as flags, or else those
 * the `rydes up` serving `dataDir` published in its endpoints.json; s3rver's static keys.
 * @example
 * createS3Client(localEnv({ dataDir: '.rydes' }, ['s3']));
 */
export function localEnv(
  flags: { dataDir?: string; s3Endpoint?: string; sqsEndpoint?: string; region?: string },
  services: Array<'s3' | 'sqs'> = ['s3', 'sqs'],
): Record<string, string> {
  const given = services.every((service) => (service === 's3' ? flags.s3Endpoint : flags.sqsEndpoint));
  if (given) {
    const region = flags.region ?? 'us-east-1';
    return localClientEnv({ s3Endpoint: flags.s3Endpoint ?? '', sqsEndpoint: flags.sqsEndpoint ?? '', region });
  }
  const endpoints = readEndpointsFile(flags.dataDir ?? DEFAULT_DATA_DIR);
  return localClientEnv({
    s3Endpoint: flags.s3Endpoint ?? endpoints.s3Endpoint,
    sqsEndpoint: flags.sqsEndpoint ?? endpoints.sqsEndpoint,
    region: flags.region ?? endpoints.region,
  });
}
