import nx from '@nx/eslint-plugin';

// Module boundaries (STYLE.md, docs/architecture.md). Every project carries one `type:*` tag:
//   app     → domain, adapter, local     (apps wire libs; never another app)
//   e2e     → domain, adapter, local     (runs the built bundles; imports no app)
//   adapter → domain                     (SDK wrappers)
//   local   → domain                     (the embedded servers and proxies)
//   domain  → domain, and no AWS package
//   tool    → nothing                    (workspace checks: tools/graph-proof)
// The Lambda functions (`scope:pipeline`) may not import the local servers from their sources:
// nothing of s3rver or local-aws-sqs may end up in a bundle. Tests and benches may use them, and
// adapter tests may too (they run against the local servers).
const AWS_PACKAGES = ['@aws-sdk/*', '@smithy/*', 'aws-cdk-lib', 'aws-cdk-lib/*', 'aws-lambda', 'sqs-consumer'];
const LOCAL_SERVER_PACKAGES = ['s3rver', 'local-aws-sqs'];

function boundaries({ tests }) {
  return [
    'error',
    {
      enforceBuildableLibDependency: true,
      allow: [],
      depConstraints: [
        { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:local'] },
        { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter', 'type:local'] },
        { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: tests ? ['type:domain', 'type:adapter', 'type:local'] : ['type:domain', 'type:adapter'] },
        { sourceTag: 'type:local', onlyDependOnLibsWithTags: ['type:domain', 'type:local'] },
        { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain'], bannedExternalImports: AWS_PACKAGES },
        { sourceTag: 'type:tool', onlyDependOnLibsWithTags: [] },
        ...(tests ? [] : [{ sourceTag: 'scope:pipeline', onlyDependOnLibsWithTags: ['type:domain', 'type:adapter'], bannedExternalImports: LOCAL_SERVER_PACKAGES }]),
      ],
    },
  ];
}

const TEST_FILES = ['**/tests/**/*.ts', '**/tests/**/*.js', '**/bench/**/*.ts', '**/*.spec.ts'];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/dist', '**/node_modules', '**/tmp', '**/cdk.out', '**/out'],
  },
  {
    files: ['**/*.ts', '**/*.js'],
    rules: { '@nx/enforce-module-boundaries': boundaries({ tests: false }) },
  },
  {
    files: TEST_FILES,
    rules: { '@nx/enforce-module-boundaries': boundaries({ tests: true }) },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
