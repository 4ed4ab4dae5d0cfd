import { randomBytes } from 'crypto';
import * as vscode from 'vscode';

/** Folders a webview may load from: the built webview bundles and the shipped styles, nothing else. */
export function webviewRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}

/**
 * The page of a webview whose script is dist/webview/<bundle>.js and style media/<bundle>.css (the
 * model editor's and the side panel's).
 * CSP `default-src 'none'`; the script runs only with this render's nonce; no remote resources.
 */
export function webviewHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  bundle: string,
  title: string,
): string {
  const nonce = randomBytes(16).toString('base64');
  // The root's test id follows the bundle: modelEditor -> model-editor, reportsPanel -> reports-panel.
  const testId = bundle.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', `${bundle}.css`));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${style}" nonce="${nonce}">
  <title>${escapeHtml(title)}</title>
</head>
<body>
  <main id="app" data-testid="${testId}" aria-busy="true"></main>
  <script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
