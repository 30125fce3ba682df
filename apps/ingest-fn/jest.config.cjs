/* Jest config for ingest-fn; shared settings live in jest.preset.js. */
const preset = require('../../jest.preset.js');

module.exports = {
  displayName: 'ingest-fn',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // The pipeline specs load the built transform-fn bundle from dist/ as Lambda does: run it untransformed.
  transformIgnorePatterns: [...preset.transformIgnorePatterns, '/dist/'],
};
