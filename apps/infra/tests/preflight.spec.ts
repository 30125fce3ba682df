import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { deployPreflight } from '../src/preflight';

describe('deploy preflight (resolves region and credentials locally, calls no AWS API)', () => {
  const home = mkdtempSync(join(tmpdir(), 'rydes-noaws-'));
  const saved = { ...process.env };
  /** No AWS configuration at all: empty home, no ~/.aws, no instance metadata. */
  const bare = (extra: Record<string, string> = {}) => {
    process.env = {
      PATH: saved.PATH,
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...extra,
    };
  };
  afterEach(() => {
    process.env = { ...saved };
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('asks for a region first, naming AWS_REGION and the profile file', async () => {
    bare();
    const problem = await deployPreflight(new CloudFormationClient({}));
    expect(problem).toMatch(/^nx deploy infra: no AWS region \(/);
    expect(problem).toContain('export AWS_REGION=');
    expect(problem).toContain('~/.aws/config');
  });

  it('lists the ways to provide credentials: profile, SSO, environment variables', async () => {
    bare({ AWS_REGION: 'eu-west-1' });
    const problem = await deployPreflight(new CloudFormationClient({}));
    expect(problem).toMatch(/^nx deploy infra: no AWS credentials for region eu-west-1/);
    for (const way of ['aws configure', 'AWS_PROFILE=NAME', 'aws sso login', 'AWS_ACCESS_KEY_ID']) expect(problem).toContain(way);
  });

  it('lets the deploy go on when both are there', async () => {
    bare({ AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    expect(await deployPreflight(new CloudFormationClient({}))).toBeUndefined();
  });
});
