/**
 * Every `rydes` command module; each exports `register(program)`. main.ts registers them in
 * this order. Add a command with one line here. These modules declare options and help only and
 * import what a command runs (the AWS SDK, the local stack, the report) inside its action, with
 * `await import(…)`: the CLI bundle then loads those modules when that command runs, so
 * `rydes --help`, `rydes generate` and a mistyped option never load the SDK, and `rydes run`
 * loads only its own part (apps/cli/tests/cli-loading.spec.ts).
 */
export * as run from './run';
export * as up from './up';
export * as generate from './generate';
export * as upload from './upload-command';
export * as doctor from './doctor-command';
export * as report from './report-command';
export * as smoke from './smoke-command';
export * as trainset from './trainset';
