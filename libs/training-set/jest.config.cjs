/* Jest config for training-set; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'training-set',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
