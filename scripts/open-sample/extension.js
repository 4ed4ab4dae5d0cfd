// Why this exists: VS Code web opens a URL's `payload` file before it has learned the editors that
// remote extensions contribute, so a fresh browser would show the model in the text editor. By
// onStartupFinished the contributions are registered and `vscode.open` picks the default editor
// for *.onnx, the Big Shrink model editor. Installed only into npm start's code-server.
'use strict';
const vscode = require('vscode');

exports.activate = async function activate() {
  const file = process.env.BIG_SHRINK_OPEN;
  if (!file) return;
  await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file));
};
exports.deactivate = function deactivate() {};
