// onnxruntime-node's native library (1.30) has telemetry built in: when it creates its environment (on the
// first InferenceSession.create of a process) it persists a device id and queued events (OS, model file
// names, versions, execution providers) under $XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/,
// looks up Microsoft's events host, and parses /proc/self/cmdline with a recursive regular expression
// (a 30,000-character argument overflows the stack: SIGSEGV). The library reads ORT_DISABLE_TELEMETRY
// from the process environment at that moment, and then does none of it; the Node binding offers no API
// for it. Imported for its effect by ./providers.ts before onnxruntime-node, so any process that can
// create a session has it set, and its children inherit it.

/** Turns onnxruntime's telemetry off for this process (idempotent; must run before the first session). */
export function disableOrtTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY = '1';
}

disableOrtTelemetry();
