import { App } from 'aws-cdk-lib';
import { configFromContext } from './config';
import { PipelineStack } from './pipeline-stack';
import { addPolicyChecks } from './policy-checks';

const app = new App();
const config = configFromContext((key) => app.node.tryGetContext(key));
new PipelineStack(app, 'Pipeline', { config });
addPolicyChecks(app);
app.synth();
