import { CloudFormationClient } from '@aws-sdk/client-cloudformation';

/** How to give CDK and the AWS SDK credentials: the ways, one per line. */
const CREDENTIALS_HELP = [
  '  aws configure                                  # an access key, saved as the default profile',
  '  aws configure sso; export AWS_PROFILE=NAME     # IAM Identity Center (SSO); later "aws sso login --profile NAME"',
  '  export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… [AWS_SESSION_TOKEN=…]',
  'A named profile goes in AWS_PROFILE (AWS_PROFILE=NAME npx nx deploy infra), which this check and cdk both read.',
].join('\n');

/**
 * What `nx deploy|diff|destroy infra` checks before cdk runs: a region and credentials the SDK's
 * default chain resolves (environment, profile, SSO, instance role) — locally, without calling
 * AWS. Returns the message to print, or undefined when both are there. CDK's own message for
 * the same case names neither the region nor the ways to provide credentials.
 * @example
 * const problem = await deployPreflight(new CloudFormationClient({}));
 */
export async function deployPreflight(client: CloudFormationClient): Promise<string | undefined> {
  let region: string;
  try {
    region = await client.config.region();
  } catch (err) {
    return (
      `nx deploy infra: no AWS region (${(err as Error).message}). Set one: export AWS_REGION=eu-west-1, ` +
      'or "region = eu-west-1" in your profile in ~/.aws/config (which "aws configure" writes).'
    );
  }
  try {
    await client.config.credentials();
  } catch (err) {
    return (
      `nx deploy infra: no AWS credentials for region ${region} (${(err as Error).message}; looked at AWS_ACCESS_KEY_ID, ` +
      `AWS_PROFILE and ~/.aws, SSO and the instance role). Provide them one of these ways:\n${CREDENTIALS_HELP}`
    );
  }
  return undefined;
}

if (require.main === module) {
  void deployPreflight(new CloudFormationClient({})).then((problem) => {
    if (!problem) return;
    process.stderr.write(`${problem}\n`);
    // sysexits EX_CONFIG: the machine's AWS configuration is missing something.
    process.exitCode = 78;
  });
}
