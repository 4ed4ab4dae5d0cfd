/**
 * Seeded mutations of ONNX files for the fuzz suite, independent of src/: byte-level damage (bit flips,
 * runs, truncation, never-ending varints) and structural edits made on the parsed message tree
 * (protoWire.ts) — dims, data types, payload fields, external-data entries, Constant attributes, sparse
 * initializers, wire types, deep nesting, length prefixes that lie — re-serialized with every enclosing
 * length fixed up, so a mutation reaches the checks behind the framing.
 */
import {
  type Field,
  I32,
  I64,
  LEN,
  type LengthSite,
  VARINT,
  collect,
  concat,
  encodeVarint,
  fBytes,
  fMsg,
  fVarint,
  packedVarints,
  parseMessage,
  serialize,
  tensorFields,
} from './protoWire';

/** mulberry32: a small, fast, seedable PRNG (32-bit state). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A PRNG with helpers. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** murmur3's 32-bit finalizer: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The seed of case `index` of run `seed` (so one case is reproducible on its own). */
export function caseSeed(seed: number, index: number): number {
  return fmix32((fmix32(seed >>> 0) + Math.imul(index + 1, 0x9e3779b9)) >>> 0);
}

// ---------------------------------------------------------------------------------------------------
// Mutations

/** One mutated input and how it was made (printed with the seed when a case fails). */
export interface Mutant {
  bytes: Uint8Array;
  desc: string;
}

/** External-data locations tried by the mutator: the safe one the in-memory resolver knows, and attacks. */
export const EXTERNAL_LOCATIONS = [
  'weights.bin',
  './weights.bin',
  '/etc/passwd',
  '../weights.bin',
  'a/../../weights.bin',
  'sub/../weights.bin',
  'C:\\weights.bin',
  '\\\\server\\share\\weights.bin',
  '',
  'nul\u0000byte.bin',
  'missing.bin',
  '..',
  '.',
];

const HUGE_NUMBERS: (number | bigint)[] = [
  0,
  1,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 40,
  2 ** 53,
  2n ** 53n + 1n,
  2n ** 62n,
  2n ** 63n - 1n,
  -1,
  -(2 ** 31),
  -(2n ** 63n),
];

type Tree = Field[];
type TreeMutation = (tree: Tree, rng: Rng) => string | undefined;

const byteMutations: ((b: Uint8Array, rng: Rng) => Mutant)[] = [
  function bitFlips(b, rng) {
    const out = b.slice();
    const n = 1 + rng.int(8);
    for (let i = 0; i < n && out.length; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return { bytes: out, desc: `flip ${n} bits` };
  },
  function byteRun(b, rng) {
    const out = b.slice();
    if (!out.length) return { bytes: out, desc: 'byte run on empty' };
    const at = rng.int(out.length);
    const len = Math.min(out.length - at, 1 + rng.int(64));
    const fill = rng.pick(['random', 0x00, 0xff, 0x80, 0x7f] as const);
    for (let i = at; i < at + len; i++) out[i] = fill === 'random' ? rng.int(256) : fill;
    return { bytes: out, desc: `byte run ${fill} x${len} at ${at}` };
  },
  function truncate(b, rng) {
    const at = rng.int(b.length);
    return { bytes: b.slice(0, at), desc: `truncate at ${at} of ${b.length}` };
  },
  function ffVarint(b, rng) {
    // Overwrite or insert a run of 0xff: a varint that never ends (or ends too late).
    const at = rng.int(b.length + 1);
    const run = new Uint8Array(2 + rng.int(12)).fill(0xff);
    const insert = rng.chance(0.5);
    const out = insert ? concat([b.subarray(0, at), run, b.subarray(at)]) : b.slice();
    if (!insert) out.set(run.subarray(0, Math.max(0, Math.min(run.length, out.length - at))), at);
    return { bytes: out, desc: `${insert ? 'insert' : 'write'} 0xff x${run.length} at ${at}` };
  },
  function spliceRange(b, rng) {
    const a = rng.int(b.length + 1);
    const len = rng.int(Math.min(256, b.length - a) + 1);
    const how = rng.pick(['delete', 'duplicate', 'random-insert'] as const);
    if (how === 'delete')
      return { bytes: concat([b.subarray(0, a), b.subarray(a + len)]), desc: `delete ${len} at ${a}` };
    if (how === 'duplicate')
      return {
        bytes: concat([b.subarray(0, a + len), b.subarray(a, a + len), b.subarray(a + len)]),
        desc: `duplicate ${len} at ${a}`,
      };
    const junk = Uint8Array.from({ length: 1 + rng.int(32) }, () => rng.int(256));
    return {
      bytes: concat([b.subarray(0, a), junk, b.subarray(a)]),
      desc: `insert ${junk.length} random at ${a}`,
    };
  },
];

function anyTensor(tree: Tree, rng: Rng): Field | undefined {
  const ts = collect(tree, 'Tensor');
  return ts.length ? rng.pick(ts).field : undefined;
}

function setVarintField(fields: Field[], num: number, value: number | bigint): void {
  const i = fields.findIndex((f) => f.num === num);
  const f = fVarint(num, value);
  if (i >= 0) fields[i] = f;
  else fields.push(f);
}

const treeMutations: Record<string, TreeMutation> = {
  hugeDims(tree, rng) {
    const t = anyTensor(tree, rng);
    if (!t?.children) return undefined;
    const menu: (number | bigint)[][] = [
      [2 ** 40],
      [2 ** 31, 2 ** 31],
      [-1],
      [-5, -5],
      [2n ** 62n],
      [2n ** 63n - 1n, 2],
      [2 ** 53 + 2],
      [0],
      [1_000_000],
      Array.from({ length: 64 }, () => 1024),
      [2 ** 24, 2 ** 24],
      [3, 0, 2 ** 40],
    ];
    const dims = rng.pick(menu);
    const packed = rng.chance(0.5);
    t.children = t.children.filter((f) => f.num !== 1);
    t.children.unshift(...(packed ? [packedVarints(1, dims)] : dims.map((d) => fVarint(1, d))));
    return `dims [${dims.join(',')}]${packed ? ' packed' : ''}`;
  },
  dataType(tree, rng) {
    const t = anyTensor(tree, rng);
    if (!t?.children) return undefined;
    const dt = rng.pick([
      0,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      15,
      16,
      17,
      20,
      21,
      22,
      23,
      24,
      99,
      -1,
      2 ** 31,
    ]);
    setVarintField(t.children, 2, dt);
    return `data_type ${dt}`;
  },
  rawLength(tree, rng) {
    const t = anyTensor(tree, rng);
    const raw = t?.children?.find((f) => f.num === 9);
    if (!raw?.raw) return undefined;
    const delta = rng.pick([-1, -2, -3, -4, -8, 1, 2, 4, 7]);
    raw.raw =
      delta < 0
        ? raw.raw.slice(0, Math.max(0, raw.raw.length + delta))
        : concat([raw.raw, new Uint8Array(delta)]);
    return `raw_data ${delta > 0 ? '+' : ''}${delta} bytes`;
  },
  typedGarbage(tree, rng) {
    const t = anyTensor(tree, rng);
    if (!t?.children) return undefined;
    const field = rng.pick([4, 5, 6, 7, 10, 11]);
    t.children = t.children.filter((f) => f.num !== 9);
    const n = rng.pick([0, 1, 3, 100, 5000]);
    const shape = rng.pick(['packed', 'unpacked', 'ff-run', 'odd-bytes', 'mixed'] as const);
    if (shape === 'packed') {
      const fixed = field === 4 ? 4 : field === 10 ? 8 : 0;
      t.children.push(
        fixed
          ? fBytes(
              field,
              Uint8Array.from({ length: n * fixed }, () => rng.int(256)),
            )
          : packedVarints(
              field,
              Array.from({ length: n }, () => rng.pick(HUGE_NUMBERS)),
            ),
      );
    } else if (shape === 'unpacked') {
      for (let i = 0; i < Math.min(n, 200); i++) {
        if (field === 4)
          t.children.push({ num: 4, wire: I32, raw: Uint8Array.from({ length: 4 }, () => rng.int(256)) });
        else if (field === 10)
          t.children.push({ num: 10, wire: I64, raw: Uint8Array.from({ length: 8 }, () => rng.int(256)) });
        else if (field === 6) t.children.push(fBytes(6, 'str' + i));
        else t.children.push(fVarint(field, rng.pick(HUGE_NUMBERS)));
      }
    } else if (shape === 'ff-run') {
      t.children.push(fBytes(field, new Uint8Array(1 + rng.int(20)).fill(0xff)));
    } else if (shape === 'odd-bytes') {
      t.children.push(
        fBytes(
          field,
          Uint8Array.from({ length: 1 + rng.int(13) }, () => rng.int(256)),
        ),
      );
    } else {
      t.children.push(packedVarints(5, [1, 2, 3]), packedVarints(7, [4, 5]));
    }
    return `typed field ${field} ${shape} n=${n}`;
  },
  external(tree, rng) {
    const t = anyTensor(tree, rng);
    if (!t?.children) return undefined;
    const location = rng.pick(EXTERNAL_LOCATIONS);
    const offset = rng.pick([
      '0',
      '4096',
      '4095',
      '-1',
      '99999999999',
      '1e3',
      'abc',
      '',
      '18446744073709551616',
      undefined,
    ]);
    const length = rng.pick(['0', '64', '4', '4097', '-4', '99999999999', 'x', undefined]);
    t.children = t.children.filter((f) => f.num !== 13 && f.num !== 14 && (rng.chance(0.5) || f.num !== 9));
    t.children.push(fVarint(14, rng.chance(0.9) ? 1 : rng.pick([2, -1, 0])));
    const kv = (k: string, v: string) => fMsg(13, 'KV', [fBytes(1, k), fBytes(2, v)]);
    if (rng.chance(0.95)) t.children.push(kv('location', location));
    if (offset !== undefined) t.children.push(kv('offset', offset));
    if (length !== undefined) t.children.push(kv('length', length));
    if (rng.chance(0.2)) t.children.push(kv('checksum', 'deadbeef'));
    return `external location=${JSON.stringify(location)} offset=${offset} length=${length}`;
  },
  constantAttribute(tree, rng) {
    const nodes = collect(tree, 'Node');
    if (!nodes.length) return undefined;
    const node = rng.pick(nodes).field;
    const kind = rng.pick([
      'value_floats',
      'value_ints',
      'value_float',
      'value_int',
      'value',
      'sparse_value',
      'g-garbage',
      'graphs-garbage',
    ] as const);
    const attr: Field[] = [fBytes(1, kind.startsWith('g') ? kind.replace('-garbage', '') : kind)];
    switch (kind) {
      case 'value_floats':
        attr.push(
          fVarint(20, 6),
          fBytes(
            7,
            Uint8Array.from({ length: rng.pick([0, 3, 4, 6, 4000]) }, () => rng.int(256)),
          ),
        );
        break;
      case 'value_ints':
        attr.push(
          fVarint(20, 7),
          packedVarints(
            8,
            Array.from({ length: rng.int(50) }, () => rng.pick(HUGE_NUMBERS)),
          ),
        );
        if (rng.chance(0.3)) attr.push(fBytes(8, new Uint8Array(11).fill(0xff)));
        break;
      case 'value_float':
        attr.push(
          fVarint(20, 1),
          rng.chance(0.5) ? { num: 2, wire: I32, raw: new Uint8Array([0, 0, 0xc0, 0x7f]) } : fVarint(2, 5),
        );
        break;
      case 'value_int':
        attr.push(fVarint(20, 2), fVarint(3, rng.pick(HUGE_NUMBERS)));
        break;
      case 'value':
        attr.push(fVarint(20, 4), fMsg(5, 'Tensor', tensorFields('t', [rng.pick([2, 3, 2 ** 40])], [1, 2])));
        break;
      case 'sparse_value': {
        const dense = rng.pick([[4], [2, 2], [2 ** 30, 2 ** 30], [2 ** 20, 2 ** 20], [3]]);
        const idx = rng.pick([
          [0, 3],
          [5, 1],
          [-1, 2],
          [1, 1],
          [2 ** 40, 0],
        ]);
        attr.push(
          fVarint(20, 11),
          fMsg(22, 'Sparse', [
            fMsg(1, 'Tensor', tensorFields('sv', [2], [7, -7])),
            fMsg(2, 'Tensor', [
              fVarint(1, rng.pick([2, 1, 3])),
              ...(rng.chance(0.3) ? [fVarint(1, 1)] : []),
              fVarint(2, 7),
              packedVarints(7, idx),
            ]),
            ...dense.map((d) => fVarint(3, d)),
          ]),
        );
        break;
      }
      case 'g-garbage':
        attr.push(
          fVarint(20, 5),
          fBytes(
            6,
            Uint8Array.from({ length: 1 + rng.int(40) }, () => rng.int(256)),
          ),
        );
        break;
      case 'graphs-garbage':
        attr.push(fVarint(20, 10), fBytes(11, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
        break;
    }
    node.children = (node.children ?? []).filter((f) => f.num !== 4);
    node.children.push(fBytes(4, 'Constant'));
    // Re-parse the attribute when it is a sub-message the schema knows (so later mutations can reach it).
    node.children.push(fMsg(5, 'Attribute', attr));
    return `Constant ${kind}`;
  },
  sparseInitializer(tree, rng) {
    const graphs = collect(tree, 'Graph');
    if (!graphs.length) return undefined;
    const g = rng.pick(graphs).field;
    const dims = rng.pick([[6], [2, 3], [2 ** 20, 2 ** 20], [2 ** 14, 2 ** 14], [0], [-3]]);
    const nnz = rng.pick([0, 2, 3]);
    const idxRank = rng.chance(0.5) ? 1 : dims.length;
    const idx = Array.from({ length: nnz * idxRank }, () => rng.pick([0, 1, 2, 5, -1, 2 ** 40]));
    g.children = g.children ?? [];
    g.children.push(
      fMsg(15, 'Sparse', [
        fMsg(
          1,
          'Tensor',
          tensorFields(
            'sp',
            [rng.pick([nnz, nnz + 1])],
            Array.from({ length: nnz }, (_, i) => i + 0.5),
          ),
        ),
        fMsg(2, 'Tensor', [
          fVarint(1, nnz),
          ...(idxRank > 1 ? [fVarint(1, idxRank)] : []),
          fVarint(2, rng.pick([7, 7, 6, 1])),
          fBytes(8, 'sp_idx'),
          fBytes(9, new Uint8Array(new BigInt64Array(idx.map((v) => BigInt(v))).buffer)),
        ]),
        ...dims.map((d) => fVarint(3, d)),
      ]),
    );
    return `sparse_initializer dims [${dims}] nnz ${nnz} indices [${idx}] rank ${idxRank}`;
  },
  dropField(tree, rng) {
    const all: { list: Field[]; i: number }[] = [];
    const walk = (fs: Field[]) =>
      fs.forEach((f, i) => {
        all.push({ list: fs, i });
        if (f.children) walk(f.children);
      });
    walk(tree);
    if (!all.length) return undefined;
    const { list, i } = rng.pick(all);
    const [f] = list.splice(i, 1);
    return `drop field ${f.num}`;
  },
  duplicateField(tree, rng) {
    const all: { list: Field[]; i: number }[] = [];
    const walk = (fs: Field[]) =>
      fs.forEach((f, i) => {
        all.push({ list: fs, i });
        if (f.children && all.length < 5000) walk(f.children);
      });
    walk(tree);
    if (!all.length) return undefined;
    const { list, i } = rng.pick(all);
    list.splice(i, 0, list[i]);
    return `duplicate field ${list[i].num}`;
  },
  wrongWireType(tree, rng) {
    const all: Field[] = [];
    const walk = (fs: Field[]) =>
      fs.forEach((f) => {
        all.push(f);
        if (f.children) walk(f.children);
      });
    walk(tree);
    if (!all.length) return undefined;
    const f = rng.pick(all);
    const wire = rng.pick([VARINT, I64, LEN, I32, 3, 4, 6, 7]);
    const before = f.wire;
    f.wire = wire;
    if (wire === VARINT) f.raw = encodeVarint(rng.pick(HUGE_NUMBERS));
    else if (wire === I64) f.raw = new Uint8Array(8);
    else if (wire === I32) f.raw = new Uint8Array(4);
    else if (wire === LEN && !f.children) f.raw = f.raw ?? new Uint8Array(0);
    else if (wire !== LEN) f.raw = new Uint8Array(0);
    if (wire !== LEN) {
      delete f.children;
      delete f.type;
    }
    return `field ${f.num} wire ${before} -> ${wire}`;
  },
  wrapDeep(tree, rng) {
    const graphField = tree.find((f) => f.num === 7 && f.children);
    if (!graphField?.children) return undefined;
    const depth = rng.pick([20, 63, 64, 65, 100, 300]);
    let g = graphField.children;
    for (let d = 0; d < depth; d++) {
      g = [
        fMsg(1, 'Node', [
          fBytes(1, 'c'),
          fBytes(2, 'o'),
          fBytes(4, 'If'),
          fMsg(5, 'Attribute', [fBytes(1, 'then_branch'), fVarint(20, 5), fMsg(6, 'Graph', g)]),
        ]),
      ];
    }
    graphField.children = g;
    return `wrap the graph in ${depth} If levels`;
  },
};

/** Lies about one length prefix of a re-serialized model (short, long, huge, or a never-ending varint). */
function lengthLie(tree: Tree, rng: Rng): Mutant | undefined {
  const sites: LengthSite[] = [];
  const bytes = serialize(tree, sites);
  const candidates = sites.filter((s) => s.message || rng.chance(0.3));
  if (!candidates.length) return undefined;
  const s = rng.pick(candidates);
  const choice = rng.pick(['short', 'long', 'zero', 'huge', 'ff'] as const);
  let enc: Uint8Array;
  if (choice === 'ff') enc = concat([new Uint8Array(9).fill(0xff), new Uint8Array([0x01])]);
  else {
    const v =
      choice === 'short'
        ? Math.max(0, s.length - 1 - rng.int(8))
        : choice === 'long'
          ? s.length + 1 + rng.int(8)
          : choice === 'zero'
            ? 0
            : rng.pick([2 ** 31 - 1, 2 ** 31, 2 ** 32 + s.length, 2 ** 40, 2n ** 63n - 1n]);
    enc = encodeVarint(v);
  }
  return {
    bytes: concat([bytes.subarray(0, s.at), enc, bytes.subarray(s.at + s.size)]),
    desc: `length at ${s.at} (${s.length}) -> ${choice}`,
  };
}

/**
 * Mutates a seed model 1–3 times. Structural mutations parse the current bytes (falling back to byte
 * mutations when they no longer parse) and re-serialize with every enclosing length fixed up.
 */
export function mutate(seed: Uint8Array, rng: Rng): Mutant {
  let bytes = seed;
  const steps: string[] = [];
  // 5% unmutated (the writer round trips then run on real models), mostly one mutation: each extra one
  // is likely to break the framing first and hide the deeper checks.
  if (rng.chance(0.05)) return { bytes, desc: 'unmutated' };
  const roll = rng.float();
  const rounds = roll < 0.7 ? 1 : roll < 0.9 ? 2 : 3;
  const names = Object.keys(treeMutations);
  for (let r = 0; r < rounds; r++) {
    const structural = rng.chance(0.7);
    let tree: Tree | undefined;
    if (structural) {
      try {
        tree = parseMessage(bytes, 'Model');
      } catch {
        tree = undefined;
      }
    }
    if (tree) {
      if (rng.chance(0.2)) {
        const m = lengthLie(tree, rng);
        if (m) {
          bytes = m.bytes;
          steps.push(m.desc);
          continue;
        }
      }
      const name = rng.pick(names);
      const desc = treeMutations[name](tree, rng);
      if (desc) {
        bytes = serialize(tree);
        steps.push(`${name}: ${desc}`);
        continue;
      }
    }
    const m = rng.pick(byteMutations)(bytes, rng);
    bytes = m.bytes;
    steps.push(m.desc);
  }
  return { bytes, desc: steps.join('; ') };
}
