import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { AwsSetupError, checkAwsSetup } from '../src/stack/connect';
import { workspaceRoot } from '../src/stack/bundles';

/** An environment with no AWS configuration at all: empty home, no ~/.aws, no instance metadata. */
function bareEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

describe('AWS setup preflight (no AWS call: the SDK resolves region and credentials locally)', () => {
  const home = mkdtempSync(join(tmpdir(), 'rydes-noaws-'));
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('names AWS_REGION and ~/.aws/config when no region is set', async () => {
    process.env = bareEnv(home);
    const error = await checkAwsSetup(new CloudFormationClient({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsSetupError);
    expect((error as AwsSetupError).missing).toBe('region');
    expect((error as Error).message).toContain('export AWS_REGION=');
    expect((error as Error).message).toContain('~/.aws/config');
  });

  it('lists profile, SSO and environment variables when no credentials are found', async () => {
    process.env = bareEnv(home, { AWS_REGION: 'eu-west-1' });
    const error = await checkAwsSetup(new CloudFormationClient({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsSetupError);
    expect((error as AwsSetupError).exitCode).toBe(78);
    const message = (error as Error).message;
    for (const way of ['aws configure', 'AWS_PROFILE', 'aws sso login', 'AWS_ACCESS_KEY_ID']) expect(message).toContain(way);
  });

  it('passes with credentials and a region from the environment', async () => {
    process.env = bareEnv(home, { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    await expect(checkAwsSetup(new CloudFormationClient({}))).resolves.toBeUndefined();
  });

  it('makes "rydes doctor" explain how to provide credentials instead of advising a deploy', async () => {
    const cli = join(workspaceRoot(), 'dist/apps/cli/main.js');
    const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'doctor'], { env: bareEnv(home, { AWS_REGION: 'eu-west-1' }), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (err += c));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out, err }));
    });
    expect(result.code).toBe(78);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^rydes: no AWS credentials \(/);
    expect(result.err).toContain('aws configure');
    expect(result.err).not.toContain('deploy');
    expect(result.err).not.toMatch(/\n\s+at /);
  });
});
