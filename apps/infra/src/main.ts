import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from './config';
import { PipelineStack } from './pipeline-stack';

const app = new App();
const config = configFromContext((key) => app.node.tryGetContext(key));
new PipelineStack(app, 'Pipeline', { config });
// Unacknowledged AwsSolutions findings stop the synth, so no deploy can skip the checks.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
