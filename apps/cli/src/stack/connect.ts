import { DescribeStacksCommand, type CloudFormationClient, type Stack } from '@aws-sdk/client-cloudformation';
import { RydesCliError } from '../errors';

/*
 * How the CLI reaches a stack: a deployed one through its CloudFormation outputs, a `rydes up`
 * one through the endpoints its banner prints.
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
}

const REQUIRED_OUTPUTS = ['BucketName', 'FanoutQueueUrl', 'FanoutDlqUrl', 'IngestDlqUrl', 'IngestFunctionName', 'TransformFunctionName'] as const;

/** No CloudFormation stack of that name in the region (or no access to it). */
export class StackNotFoundError extends RydesCliError {
  override name = 'StackNotFoundError';
  constructor(readonly stackName: string, detail: string) {
    super(`stack ${stackName}: ${detail}. Deploy it with "npx nx deploy infra" or pass --stack NAME and --region.`);
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
    stack = (await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (err) {
    const error = err as Error;
    if (error.name === 'ValidationError' && /does not exist/.test(error.message)) throw new StackNotFoundError(stackName, 'does not exist');
    throw new StackNotFoundError(stackName, `DescribeStacks failed (${error.name}: ${error.message})`);
  }
  if (!stack) throw new StackNotFoundError(stackName, 'does not exist');
  const outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  for (const key of REQUIRED_OUTPUTS) if (!outputs[key]) throw new StackOutputMissingError(stackName, key);
  return outputs as unknown as StackOutputs;
}

/**
 * Environment for SDK clients of a `rydes up` stack: its endpoints and s3rver's static keys.
 * @example
 * createS3Client(localEnv({ s3Endpoint: 'http://127.0.0.1:4568' }, ['s3']));
 */
export function localEnv(
  flags: { s3Endpoint?: string; sqsEndpoint?: string; region?: string },
  services: Array<'s3' | 'sqs'> = ['s3', 'sqs'],
): Record<string, string> {
  const missing = services.filter((service) => !(service === 's3' ? flags.s3Endpoint : flags.sqsEndpoint));
  if (missing.length > 0) throw new LocalEndpointsError(missing.map((service) => `--${service}-endpoint URL`));
  return {
    ...(flags.s3Endpoint && { AWS_ENDPOINT_URL_S3: flags.s3Endpoint }),
    ...(flags.sqsEndpoint && { AWS_ENDPOINT_URL_SQS: flags.sqsEndpoint }),
    AWS_REGION: flags.region ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
}

/** `--local` without the endpoints it needs. */
export class LocalEndpointsError extends RydesCliError {
  override name = 'LocalEndpointsError';
  constructor(readonly missing: string[]) {
    super(`--local needs ${missing.join(' and ')}: copy it from the banner "rydes up" prints.`);
  }
}
