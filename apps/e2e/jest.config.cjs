/* Jest config for e2e; shared settings live in jest.preset.js. */
const preset = require('../../jest.preset.js');

module.exports = {
  displayName: 'e2e',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // The specs load the built function bundles from dist/ as Lambda does: run them untransformed.
  transformIgnorePatterns: [...preset.transformIgnorePatterns, '/dist/'],
};
