// Shared Jest settings for every project (Node environment, ts-jest, ESM-only deps transpiled).
const path = require('node:path');

// The AWS SDK warns once per process on Node 20 (Lambda runs 22: PITFALLS #10); test workers inherit this.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

module.exports = {
  testEnvironment: 'node',
  // A hang guard, not a speed check: specs on real local servers take a few seconds when idle
  // and several times that while CI runs every project at once on a small machine, past Jest's
  // default 5 s. Speed is measured by the bench targets.
  testTimeout: 30_000,
  passWithNoTests: true,
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/tests/**/*.spec.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    // A tsconfig *path*, never an inline object: @nx/jest/plugin crashes on the latter.
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  // rbush 4, rbush-knn 4 and their helpers are ESM-only; let ts-jest turn them into CJS.
  transformIgnorePatterns: ['node_modules/(?!(rbush|rbush-knn|quickselect|tinyqueue)/)'],
  moduleNameMapper: {
    '^@rydes/ride-model$': path.join(__dirname, 'libs/ride-model/src/index.ts'),
    '^@rydes/ride-model/testing$': path.join(__dirname, 'libs/ride-model/src/testing.ts'),
    '^@rydes/geo-index$': path.join(__dirname, 'libs/geo-index/src/index.ts'),
    '^@rydes/geo-index/testing$': path.join(__dirname, 'libs/geo-index/src/testing.ts'),
    '^@rydes/training-set$': path.join(__dirname, 'libs/training-set/src/index.ts'),
    '^@rydes/aws-adapters$': path.join(__dirname, 'libs/aws-adapters/src/index.ts'),
    '^@rydes/local-aws$': path.join(__dirname, 'libs/local-aws/src/index.ts'),
  },
  reporters: ['default', path.join(__dirname, 'tools/jest-count-reporter.cjs')],
};
