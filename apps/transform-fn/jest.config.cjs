/* Jest config for transform-fn; shared settings live in jest.preset.js. */
const preset = require('../../jest.preset.js');

module.exports = {
  displayName: 'transform-fn',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // The chained test loads the built ingest-fn bundle from dist/ as Lambda does: run it untransformed.
  transformIgnorePatterns: [...preset.transformIgnorePatterns, '/dist/'],
};
