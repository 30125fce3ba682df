import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { controlTowerChecks } from './control-tower';

/**
 * Both rule packs, run by CDK on every synthesized template: cdk-nag's AwsSolutions and AWS
 * Control Tower's proactive controls. An unacknowledged finding of either stops the synth, so no
 * deploy can skip them.
 * @example
 * const app = new App();
 * addPolicyChecks(app);
 */
export function addPolicyChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), controlTowerChecks());
}
