/**
 * Name of the CloudFormation stack `nx deploy infra` creates when no `stackName` is given, and
 * the one `rydes doctor` and `rydes upload` look for without `--stack`.
 *
 * @example
 * const stackName = flags.stack ?? DEFAULT_STACK_NAME; // 'wildrydes-ride-pipeline'
 */
export const DEFAULT_STACK_NAME = 'wildrydes-ride-pipeline';
