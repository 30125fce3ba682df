/**
 * Every `rydes` command module; each exports `register(program)`. main.ts registers them in
 * this order. Add a command with one line here.
 */
export * as run from './run';
export * as up from './up';
export * as generate from './generate';
export * as upload from './upload';
export * as doctor from './doctor';
export * as report from './report';
export * as smoke from './smoke';
export * as trainset from './trainset';
