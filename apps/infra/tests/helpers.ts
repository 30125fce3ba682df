import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { configFromContext } from '../src/config';
import { PipelineStack } from '../src/pipeline-stack';
import { addPolicyChecks } from '../src/policy-checks';
import cdkJson from '../cdk.json';

/** Synthesizes the stack with cdk.json's feature flags plus `context`, as `cdk synth -c` would. */
export function synthPipeline(context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...cdkJson.context, ...context } });
  const config = configFromContext((key) => app.node.tryGetContext(key));
  const stack = new PipelineStack(app, 'Pipeline', { config });
  return { app, stack, template: Template.fromStack(stack) };
}

/** A synthesized CloudFormation value: untyped JSON, read the way the template assertions do. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Cfn = any;

type Resources = Record<string, { Type: string; Properties?: Record<string, Cfn>; DeletionPolicy?: string }>;

/** Logical id of the only resource of `type` whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of every identity policy (AWS::IAM::Policy and inline role policies) and resource policy. */
export function allStatements(template: Template): { owner: string; statement: Statement }[] {
  const resources = template.toJSON().Resources as Resources;
  const found: { owner: string; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    const documents = [
      props.PolicyDocument,
      ...(props.Policies ?? []).map((p: { PolicyDocument: unknown }) => p.PolicyDocument),
    ].filter(Boolean);
    for (const document of documents) for (const statement of document.Statement) found.push({ owner: id, statement });
  }
  return found;
}

/** Statements of the default policy attached to the role with logical id prefix `rolePrefix`. */
export function roleStatements(template: Template, rolePrefix: string): Statement[] {
  const roleId = logicalId(template, 'AWS::IAM::Role', rolePrefix);
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** `{"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/raw/*"]]}` → `<bucket>/raw/*`. */
export function resourceText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const value = resource as Record<string, Cfn>;
  if (value['Fn::Join']) return (value['Fn::Join'][1] as unknown[]).map(resourceText).join(value['Fn::Join'][0]);
  if (value['Fn::GetAtt']) return `<${value['Fn::GetAtt'].join('.')}>`;
  if (value.Ref) return `<${value.Ref}>`;
  if (typeof value['Fn::Sub'] === 'string') return value['Fn::Sub'];
  return JSON.stringify(resource);
}

/** One suppressed finding of CDK's validation report (validation-report.json in the cloud assembly). */
export interface SuppressedFinding {
  ruleName: string;
  acknowledgedId: string;
  acknowledgedAt: string;
  reason: string;
  violatingConstructs: { constructPath: string }[];
}

export interface PolicyReport {
  pluginReports: { pluginName: string; conclusion: string; violations: unknown[]; suppressedViolations?: SuppressedFinding[] }[];
}

/**
 * Synthesizes the stack as `cdk synth` does, with both rule packs (cdk-nag and Control Tower),
 * into a temporary cloud assembly; returns CDK's validation report. Throws what the synth throws.
 */
export function synthWithPolicyChecks(context: Record<string, unknown> = {}) {
  const outdir = mkdtempSync(join(tmpdir(), 'rydes-infra-synth-'));
  try {
    const app = new App({ context: { ...cdkJson.context, ...context }, outdir });
    const config = configFromContext((key) => app.node.tryGetContext(key));
    const stack = new PipelineStack(app, 'Pipeline', { config });
    addPolicyChecks(app);
    app.synth();
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as PolicyReport;
    const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')));
    return { stack, report, template };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
