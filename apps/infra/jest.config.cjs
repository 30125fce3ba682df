/* Jest config for infra; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'infra',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
