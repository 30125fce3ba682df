/* Jest config for local-aws; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'local-aws',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
