/* Jest config for ride-model; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'ride-model',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
