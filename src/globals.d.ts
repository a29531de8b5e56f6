/** Package version, injected by esbuild (`define`) and by the test setup. */
declare const __VERSION__: string;
