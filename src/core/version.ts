// esbuild injects __VERSION__ into bundles; under tsx (tests, bench) the package.json is read instead.
import pkg from '../../package.json';

export const VERSION: string = typeof __VERSION__ !== 'undefined' ? __VERSION__ : pkg.version;
