import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RETURN_FREED_MEMORY } from '../../src/runtime/returnFreedMemory';
import { REPO_ROOT } from '../testModels';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

describe('dist/cli.js run as a program', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-launcher-'));
    // A stand-in for node on PATH: shows what the launcher line hands it.
    fs.writeFileSync(
      path.join(dir, 'node'),
      '#!/bin/sh\necho "MMAP=$MALLOC_MMAP_THRESHOLD_ TRIM=$MALLOC_TRIM_THRESHOLD_"\necho "ARGS=$*"\n',
      { mode: 0o755 },
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (env: NodeJS.ProcessEnv) =>
    spawnSync(CLI, ['quantize', 'a b.onnx', '--bits', '4'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env },
    });

  it("execs node on itself with glibc's return-freed-memory settings and the arguments as given", () => {
    const env = { ...process.env };
    delete env.MALLOC_MMAP_THRESHOLD_;
    delete env.MALLOC_TRIM_THRESHOLD_;
    const r = spawnSync(CLI, ['quantize', 'a b.onnx', '--bits', '4'], {
      encoding: 'utf8',
      env: { ...env, PATH: `${dir}:${process.env.PATH}` },
    });
    assert.equal(r.status, 0, r.stderr);
    const [mmap, args] = r.stdout.trim().split('\n');
    assert.equal(
      mmap,
      `MMAP=${RETURN_FREED_MEMORY.MALLOC_MMAP_THRESHOLD_} TRIM=${RETURN_FREED_MEMORY.MALLOC_TRIM_THRESHOLD_}`,
    );
    assert.equal(args, `ARGS=${CLI} quantize a b.onnx --bits 4`);
  });

  it('keeps values the user set', () => {
    const r = run({ MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '1' });
    assert.equal(r.stdout.split('\n')[0], 'MMAP=65536 TRIM=1');
  });

  it('runs under node itself (the launcher line is a directive and a comment there)', () => {
    const r = spawnSync(CLI, ['--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const viaNode = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    assert.equal(viaNode.status, 0, viaNode.stderr);
    assert.equal(r.stdout, viaNode.stdout);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });
});
