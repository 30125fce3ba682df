import { Match } from 'aws-cdk-lib/assertions';
import { logicalId, synthPipeline } from './helpers';

describe('ingest self-invocation (continuation) is allowed under any ARN the function runs as', () => {
  const { template } = synthPipeline();
  const ingest = logicalId(template, 'AWS::Lambda::Function', 'Ingest');

  it('grants lambda:InvokeFunction on the unqualified ARN and on every qualified one (fn:alias, fn:version)', () => {
    // The continuation invokes context.invokedFunctionArn: qualified when the function runs under an alias or version.
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'lambda:InvokeFunction',
            Resource: [{ 'Fn::GetAtt': [ingest, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ingest, 'Arn'] }, ':*']] }],
          }),
        ]),
      },
    });
  });
});
