/**
 * `rydes report`: its options and help. Its implementation (./report.ts, with the AWS SDK clients)
 * loads only when the command runs: `rydes --help` and the other commands start without it.
 */
import type { Command } from 'commander';
import { REPORT_FILE } from '../run/out-folder';
import { integer } from './options';
import type { ReportFlags } from './report';

export function register(program: Command): void {
  program
    .command('report')
    .description(
      `Build the run report, one self-contained HTML page (map, charts, rejects, timeline): from a "rydes run" output ` +
        `folder (OUT_DIR/${REPORT_FILE}), or with --stack from a deployed stack's bucket.`,
    )
    .argument('[OUT_DIR]', 'output folder of "rydes run" (--out)', 'out')
    .option('--stack <NAME>', "a deployed stack: read its bucket's manifests/, rejects/ and processed/ instead of OUT_DIR")
    .option('--region <REGION>', 'with --stack: AWS region (default: AWS_REGION or your profile)')
    .option('--sample <N>', 'with --stack: read at most N processed/ objects, spread evenly over the bucket', integer('--sample', 1))
    .option('--stations <FILE>', 'station catalogue the run used, for the markers (default: what summary.json names, else the bundled NYC stations)')
    .option('-o, --output <FILE>', `where the page goes (default: OUT_DIR/${REPORT_FILE}; with --stack ./report-<stack>.html)`)
    .action(async (outDir: string, flags: ReportFlags) => (await import('./report')).report(outDir, flags));
}
