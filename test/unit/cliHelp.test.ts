// big-shrink CMD --help, usage errors with a one-line hint, and bad files named plainly (dist/cli.js).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT, testModel } from '../testModels';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-clihelp-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The commands `big-shrink --help` lists. */
function listedCommands(): string[] {
  const r = cli('--help');
  assert.equal(r.status, 0, r.stderr);
  return [...new Set([...r.stdout.matchAll(/^\s*big-shrink ([a-z][a-z-]*)\b/gm)].map((m) => m[1]))];
}

describe('big-shrink CMD --help', () => {
  const commands = listedCommands();
  const whole = cli('--help').stdout;

  it('lists every command the issue names', () => {
    for (const c of ['inspect', 'rewrite', 'quantize', 'convert', 'prune', 'verify', 'sensitivity', 'shrink'])
      assert.ok(commands.includes(c), `${c} in ${commands.join(', ')}`);
  });

  for (const command of commands) {
    it(`${command} --help and -h print that command's help and exit 0`, () => {
      // -h also after other arguments, even ones that would be bad usage.
      for (const [flag, r] of [
        ['--help', cli(command, '--help')],
        ['-h', cli(command, 'model.onnx', '--bogus', '-h')],
      ] as const) {
        assert.equal(r.status, 0, `${command} ${flag}: ${r.stderr}`);
        assert.ok(r.stdout.startsWith(`big-shrink ${command} `), r.stdout.slice(0, 200));
        assert.match(r.stdout, /exit codes:/);
        assert.ok(r.stdout.length < whole.length / 2, `${command}: only its own help`);
        for (const other of commands.filter((c) => c !== command))
          assert.ok(!r.stdout.includes(`big-shrink ${other} `), `${command} --help shows ${other}`);
        assert.equal(r.stderr, '');
      }
    });

    it(`${command}: a usage error is one line and the hint, exit 2`, () => {
      const r = cli(command, 'model.onnx', '--no-such-option');
      assert.equal(r.status, 2, r.stderr);
      assert.deepEqual(r.stderr.trimEnd().split('\n'), [
        'big-shrink: unknown option --no-such-option',
        `run 'big-shrink ${command} --help' for its options`,
      ]);
      assert.equal(r.stdout, '');
    });
  }

  it('a bad value names the option; an unknown command points to big-shrink --help', () => {
    const bits = cli('quantize', 'model.onnx', '--bits', '5');
    assert.equal(bits.status, 2);
    assert.deepEqual(bits.stderr.trimEnd().split('\n'), [
      'big-shrink: --bits takes 2, 4 or 8',
      "run 'big-shrink quantize --help' for its options",
    ]);
    const unknown = cli('squash', 'model.onnx');
    assert.equal(unknown.status, 2);
    assert.deepEqual(unknown.stderr.trimEnd().split('\n'), [
      'big-shrink: unknown command "squash"',
      "run 'big-shrink --help' for the commands",
    ]);
    const help = cli('help', 'prune');
    assert.equal(help.status, 0);
    assert.ok(help.stdout.startsWith('big-shrink prune '));
  });

  it('the exit codes are in big-shrink --help', () => {
    assert.match(whole, /exit codes:\n\s+0 .*\n\s+1 .*nothing written.*\n\s+2 .*bad usage.*\n\s+3 /);
  });
});

describe('bad files: plain reason first, the detail after (exit 1)', () => {
  const bert = fs.readFileSync(testModel('tiny_bert_random_inline.onnx'));
  const png = Buffer.from(
    '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da6364f8cf00000301010018dd8db00000000049454e44ae426082',
    'hex',
  );
  const cases: { name: string; data: string | Uint8Array; reason: RegExp }[] = [
    {
      name: 'notes.onnx',
      data: 'hello world, these are my notes\n',
      reason: /^not an ONNX model \(it looks like text; .+\)$/,
    },
    {
      name: 'cut.onnx',
      data: bert.subarray(0, 700000),
      reason: /^truncated: the file ends at byte 700000 but a field needs \d+ \(.+\)$/,
    },
    { name: 'empty.onnx', data: '', reason: /^not an ONNX model \(the file is empty\)$/ },
    {
      name: 'config.json',
      data: '{"hidden_size": 64}\n',
      reason: /^not an ONNX model \(it looks like JSON; .+\)$/,
    },
    { name: 'image.png', data: png, reason: /^not an ONNX model \(it looks like a PNG image; .+\)$/ },
  ];
  for (const c of cases) {
    it(`${c.name}: inspect and quantize name the file and the reason`, () => {
      const file = path.join(tmp, c.name);
      fs.writeFileSync(file, c.data);
      for (const args of [
        ['inspect', file],
        ['quantize', file, '--bits', '4'],
      ]) {
        const r = cli(...args);
        assert.equal(r.status, 1, r.stderr);
        const line = r.stderr.trimEnd();
        assert.ok(line.startsWith(`big-shrink: error: ${file}: `), line);
        assert.match(line.slice(`big-shrink: error: ${file}: `.length), c.reason);
        assert.doesNotMatch(line, /\n/, 'one line');
      }
      assert.deepEqual(
        fs.readdirSync(tmp).filter((f) => f.startsWith(c.name.replace(/\.\w+$/, ''))),
        [c.name],
        'nothing written',
      );
    });
  }
});
