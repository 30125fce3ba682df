/* Jest config for aws-adapters; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'aws-adapters',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
