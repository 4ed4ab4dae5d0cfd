// Mocha entry point of the extension-host suite (the @vscode/test-electron contract: export run()).
// esbuild bundles every test/suite/*.test.ts beside this file; they are found at run time by reading
// this folder, not from a hand-kept list, so a new suite file cannot be forgotten.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';
import { suiteTempRoot } from './helpers';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60000, reporter: 'spec' });
  const grep = process.env.BIG_SHRINK_SUITE_GREP;
  if (grep) mocha.grep(grep);
  for (const f of fs.readdirSync(__dirname).sort()) {
    if (f.endsWith('.test.js')) mocha.addFile(path.join(__dirname, f));
  }
  const results: { title: string; state: string; err?: string }[] = [];
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      fs.rmSync(suiteTempRoot(), { recursive: true, force: true });
      const summary = {
        passed: results.filter((r) => r.state === 'passed').length,
        failed: failures,
        skipped: results.filter((r) => r.state === 'skipped').length,
        results,
      };
      if (process.env.E2E_RESULTS_FILE)
        fs.writeFileSync(process.env.E2E_RESULTS_FILE, JSON.stringify(summary, null, 2));
      // run-all.sh reads this line: skipped tests are shown, and a run that selected none fails there.
      console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
      if (failures > 0) reject(new Error(`${failures} tests failed.`));
      else resolve();
    });
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed' }));
    runner.on('pending', (t) => results.push({ title: t.fullTitle(), state: 'skipped' }));
    runner.on('fail', (t, err) =>
      results.push({ title: t.fullTitle(), state: 'failed', err: String(err?.message ?? err) }),
    );
  });
}
