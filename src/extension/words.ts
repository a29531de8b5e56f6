// What the user reads about indexing and failures, in plain words. No `vscode` import: unit-tested.
import type { ProgressNotification } from '../core/protocol';

/** The line under "e2code: indexing" in the progress notification; no "chunk 0/0". */
export function progressMessage(folder: string, p: Pick<ProgressNotification, 'phase' | 'done' | 'total'>): string {
  const counted = (what: string, unit: string) =>
    p.total > 0
      ? `${folder}: ${what} (${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} ${unit})`
      : `${folder}: ${what}`;
  switch (p.phase) {
    case 'walk':
      return `${folder}: finding files`;
    case 'chunk':
      return counted('reading files', 'files');
    case 'encode':
      return counted('reading the code with the model', 'parts');
  }
}

/**
 * An error message for a tooltip or a notification: its first line, with absolute paths of files the
 * user never chose (inside node_modules, the extension, the system) shortened to their file name.
 */
export function plainReason(message: string, keep: string[] = []): string {
  const first =
    message
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? message.trim();
  return first.replace(/(?:[A-Za-z]:)?[\\/][^\s'"`:,;()]+/g, (p) => {
    if (keep.some((k) => k && (p === k || p.startsWith(k + '/') || p.startsWith(k + '\\')))) return p;
    const base = p.split(/[\\/]/).filter(Boolean).pop();
    return base ?? p;
  });
}
