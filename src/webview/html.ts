// The chat webview's HTML shell. Kept free of `vscode` so that the browser test serves exactly this page
// (same CSP) around the real bundle.

export interface ChatHtmlOptions {
  /** The webview's own origin for resources (`webview.cspSource`). */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUris: string[];
}

export function chatCsp(cspSource: string, nonce: string): string {
  // No inline script, no eval, nothing from the network: model output can at most be text.
  return [
    "default-src 'none'",
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function chatHtml(o: ChatHtmlOptions): string {
  const styles = o.styleUris.map((u) => `<link rel="stylesheet" href="${escapeAttr(u)}" nonce="${o.nonce}">`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(chatCsp(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${styles}
<title>e2code chat</title>
</head>
<body>
<div id="app"></div>
<script nonce="${o.nonce}" src="${escapeAttr(o.scriptUri)}"></script>
</body>
</html>`;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
