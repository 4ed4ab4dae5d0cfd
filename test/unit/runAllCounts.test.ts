// How test/run-all.sh counts a suite (test/runAllCounts.sh), on sample TAP reports and harness logs:
// skipped and todo tests are shown and summed, BIG_SHRINK_REQUIRE_ALL=1 fails on a skip, and a run that
// printed no counts or selected no test is a failure, not a pass.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

const REPO = path.resolve(__dirname, '..', '..', '..');
const COUNTS = path.join(REPO, 'test', 'runAllCounts.sh');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-counts-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let files = 0;
/** Writes `text` to a temp file and returns its path. */
function file(text: string): string {
  const p = path.join(tmp, `f${files++}.txt`);
  fs.writeFileSync(p, text);
  return p;
}

/** Runs `script` in bash after sourcing runAllCounts.sh; its stdout lines. */
function bash(script: string, env: Record<string, string> = {}): string[] {
  const out = execFileSync('bash', ['-c', `source "${COUNTS}"\n${script}`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  return out.trim().split('\n');
}

/** The tail of a node --test TAP report with these counts. */
function tap(c: { pass: number; fail: number; cancelled?: number; skipped?: number; todo?: number }): string {
  const tests = c.pass + c.fail + (c.cancelled ?? 0) + (c.skipped ?? 0) + (c.todo ?? 0);
  return [
    'TAP version 13',
    'ok 1 - something',
    `# tests ${tests}`,
    '# suites 1',
    `# pass ${c.pass}`,
    `# fail ${c.fail}`,
    `# cancelled ${c.cancelled ?? 0}`,
    `# skipped ${c.skipped ?? 0}`,
    `# todo ${c.todo ?? 0}`,
    '# duration_ms 12.5',
    '',
  ].join('\n');
}

describe('run-all.sh counting: node --test TAP reports', () => {
  it('skipped and todo tests are counted and shown per suite and in the total', () => {
    const t = file(tap({ pass: 5, fail: 1, cancelled: 1, skipped: 2, todo: 1 }));
    assert.deepEqual(bash(`tap_counts ${t}`), ['5 2 3']);
    const lines = bash(`record_counts unit "$(date +%s.%N)" "$(tap_counts ${t})"\ntotal_line`);
    assert.match(lines[0], /^suite unit: +5 passed, 2 failed, 3 skipped {2}\(\d+\.\ds\)$/);
    assert.equal(lines[1], '5 passed, 2 failed, 3 skipped');
  });
  it('BIG_SHRINK_REQUIRE_ALL=1 counts every skipped test as failed', () => {
    const t = file(tap({ pass: 4, fail: 0, skipped: 1, todo: 1 }));
    const script = `record_counts corpus "$(date +%s.%N)" "$(tap_counts ${t})"\ntotal_line`;
    assert.equal(bash(script).at(-1), '4 passed, 0 failed, 2 skipped');
    const strict = bash(script, { BIG_SHRINK_REQUIRE_ALL: '1' });
    assert.match(strict[0], /4 passed, 2 failed, 2 skipped .*2 skipped count as failed/);
    assert.equal(strict.at(-1), '4 passed, 2 failed, 2 skipped');
  });
  it('a run with no test, or no counts at all, is one failure', () => {
    assert.deepEqual(bash(`tap_counts ${file(tap({ pass: 0, fail: 0 }))}`), ['0 1 0 no tests ran']);
    const broken = file('TAP version 13\nnot ok 1 - crashed before the summary\n');
    assert.match(bash(`tap_counts ${broken}`)[0], /^0 1 0 no counts in /);
  });
  it('sums several suites', () => {
    const a = file(tap({ pass: 3, fail: 0, skipped: 1 }));
    const b = file(tap({ pass: 7, fail: 2 }));
    const t0 = '"$(date +%s.%N)"';
    const lines = bash(
      `record_counts unit ${t0} "$(tap_counts ${a})"\nrecord_counts fuzz ${t0} "$(tap_counts ${b})"\ntotal_line`,
    );
    assert.equal(lines.at(-1), '10 passed, 2 failed, 1 skipped');
  });
});

describe('run-all.sh counting: harness logs (extension host, e2e, main job)', () => {
  const counts = (log: string, rc: number, prefix = '') =>
    bash(`line_counts ${file(log)} ${rc} '${prefix}'`)[0];
  it('an extension-host run that printed no results is a failure, even with exit 0', () => {
    assert.match(counts('code-server started\nextension host exited\n', 0), /^0 1 0 exit 0, no 'N passed/);
  });
  it('a Mocha run that selected zero tests is a failure of that suite', () => {
    assert.match(counts('0 passed, 0 failed, 0 skipped\n', 0), /^0 1 0 exit 0, no tests selected/);
    assert.match(counts('0 passed, 0 failed\n', 0), /^0 1 0 exit 0, no tests selected/);
  });
  it('reads passed, failed and skipped from the last closing line', () => {
    assert.equal(
      counts('1 passed, 1 failed, 0 skipped\nretry\n12 passed, 0 failed, 2 skipped\n', 0),
      '12 0 2 exit 0',
    );
    assert.equal(counts('12 passed, 0 failed\n', 0), '12 0 0 exit 0');
    assert.equal(
      counts('e2e quantize: 3 passed, 0 failed\ne2e: 5 passed, 1 failed\n', 1, 'e2e: '),
      '5 1 0 exit 1',
    );
  });
  it('a nonzero exit after a line that said nothing failed is a failure', () => {
    assert.equal(counts('9 passed, 0 failed, 0 skipped\n', 3), '9 1 0 exit 3');
  });
  it('skipped Mocha tests fail the run under BIG_SHRINK_REQUIRE_ALL=1', () => {
    const log = file('9 passed, 0 failed, 1 skipped\n');
    const script = `record_counts exthost "$(date +%s.%N)" "$(line_counts ${log} 0)"\ntotal_line`;
    assert.equal(bash(script).at(-1), '9 passed, 0 failed, 1 skipped');
    assert.equal(bash(script, { BIG_SHRINK_REQUIRE_ALL: '1' }).at(-1), '9 passed, 1 failed, 1 skipped');
  });
});

describe('run-all.sh uses these functions', () => {
  it('sources runAllCounts.sh and counts every suite through it', () => {
    const runAll = fs.readFileSync(path.join(REPO, 'test', 'run-all.sh'), 'utf8');
    assert.match(runAll, /source "\$ROOT\/test\/runAllCounts\.sh"/);
    assert.match(runAll, /tap_counts "\$tap"/);
    for (const suite of ['exthost', 'e2e', 'start']) {
      assert.match(runAll, new RegExp(`record_counts ${suite} "\\$t" "\\$\\(line_counts `), suite);
    }
    assert.match(runAll, /^total_line$/m);
  });
});
