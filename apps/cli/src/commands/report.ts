import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { createS3Client } from '@rydes/aws-adapters';
import { resolve } from 'node:path';
import { InvalidOptionError } from '../errors';
import { stackOutputs } from '../stack/connect';

export interface ReportFlags {
  stack?: string;
  region?: string;
  sample?: number;
  stations?: string;
  output?: string;
}

/** `rydes report --stack NAME`: the bucket from the stack's outputs, then the page from the bucket. */
export async function reportForStack(
  flags: { stack: string; sample?: number; stations?: string; output: string },
  clients: { cloudformation: CloudFormationClient; env: NodeJS.ProcessEnv | Record<string, string> },
): Promise<{ path: string; bytes: number; bucket: string }> {
  const bucket = (await stackOutputs(clients.cloudformation, flags.stack)).BucketName;
  const [{ readStack }, { writeReport }] = await Promise.all([import('../report/read-stack'), import('../report/build-report')]);
  const data = await readStack(createS3Client(clients.env), bucket, {
    subject: `stack ${flags.stack} (s3://${bucket})`,
    sample: flags.sample,
    stationsFile: flags.stations && resolve(flags.stations),
  });
  const { bytes } = await writeReport(data, flags.output);
  return { path: flags.output, bytes, bucket };
}

/** What `rydes report` does once its options are parsed (registered by report-command.ts). */
export async function report(outDir: string, flags: ReportFlags): Promise<void> {
  // The report's modules (ECharts among them) and the AWS clients load only when this command runs.
  if (flags.stack) {
    const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
    const env = flags.region ? { ...process.env, AWS_REGION: flags.region } : process.env;
    const output = resolve(flags.output ?? `report-${flags.stack}.html`);
    const built = await reportForStack(
      { stack: flags.stack, sample: flags.sample, stations: flags.stations, output },
      { cloudformation: new CloudFormationClient(flags.region ? { region: flags.region } : {}), env },
    );
    process.stdout.write(`report: ${built.path} (${(built.bytes / 1024).toFixed(0)} KiB, from s3://${built.bucket})\n`);
    return;
  }
  if (flags.sample !== undefined) throw new InvalidOptionError('--sample', String(flags.sample), 'to be used with --stack only (OUT_DIR is read whole)');
  const { buildReport } = await import('../report/build-report');
  const built = await buildReport(resolve(outDir), {
    stationsFile: flags.stations && resolve(flags.stations),
    output: flags.output && resolve(flags.output),
  });
  process.stdout.write(`report: ${built.path} (${(built.bytes / 1024).toFixed(0)} KiB, ${(built.readSeconds + built.renderSeconds).toFixed(1)} s)\n`);
}
