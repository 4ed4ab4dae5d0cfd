import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactAny, exactPattern, withExcluded } from '../../src/core/graph/excludePattern';
import { DagreRuns, findBypasses, findChains } from '../../src/core/graph/dagreRuns';
import { blockKeyOf, findBlocks } from '../../src/core/graph/findBlocks';
import { buildGraph, type GraphModel } from '../../src/core/graph/graphModel';
import { layoutGraph } from '../../src/core/graph/layoutGraph';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
  type QuantizeOptions,
} from '../../src/core/quant/planQuantize';
import { openModel } from '../../src/runtime/openModel';
import { testModel } from '../testModels';

function graphOf(name: string, path = 'main') {
  const model = openModel(testModel(name));
  try {
    return { index: model.index, graph: buildGraph(model.index, path) };
  } finally {
    model.close();
  }
}

/** Nodes the layout draws (folded Constants are listed, not drawn). */
const drawable = (graph: GraphModel) => graph.nodes.filter((n) => n.folded === undefined).length;

/** Every drawn box overlaps no other box of the same level. */
function overlaps(
  graph: GraphModel,
  boxes: ({ x: number; y: number; width: number; height: number } | null)[],
) {
  const list = boxes.map((b, i) => ({ b, i })).filter((x) => x.b && graph.nodes[x.i].block === undefined);
  let count = 0;
  for (let i = 0; i < list.length; i++)
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i].b!;
      const c = list[j].b!;
      if (a.x < c.x + c.width && c.x < a.x + a.width && a.y < c.y + c.height && c.y < a.y + a.height) count++;
    }
  return count;
}

describe('graph model', () => {
  for (const name of [
    'tiny_bert_random_inline.onnx',
    'ortgenai_tiny_random_gpt2_fp32_past.onnx',
    'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    'basic_pitch_nmp.onnx',
  ]) {
    it(`${name}: one node per index node, edges from producers to consumers`, () => {
      const { index, graph } = graphOf(name);
      const main = index.graphs.find((g) => g.path === 'main')!;
      const ops = graph.nodes.filter((n) => n.kind === 'op');
      assert.equal(graph.opCount, main.nodeIds.length);
      assert.deepEqual(
        ops.map((n) => n.nodeId),
        main.nodeIds,
      );
      const inputs = graph.nodes.filter((n) => n.kind === 'input').map((n) => n.name);
      const outputs = graph.nodes.filter((n) => n.kind === 'output').map((n) => n.name);
      assert.deepEqual(
        outputs,
        main.outputs.map((o) => o.name),
      );
      for (const i of inputs) assert.ok(main.inputs.some((v) => v.name === i));
      assert.ok(graph.edges.length > 0);
      for (const e of graph.edges) {
        const from = graph.nodes[e.from];
        const to = graph.nodes[e.to];
        assert.ok(from.kind === 'input' ? from.name === e.tensor : from.outputs.includes(e.tensor), e.tensor);
        assert.ok(to.kind === 'output' ? to.name === e.tensor : to.inputs.includes(e.tensor), e.tensor);
      }
      // Weights sit on their consumers, each as the index records it.
      for (const n of ops)
        for (const w of n.weights) {
          const t = index.tensors[w.tensorId];
          assert.equal(t.name, w.name);
          assert.ok(t.consumers.some((c) => c.nodeId === n.nodeId && c.input === w.input));
        }
      const weightNames = new Set(ops.flatMap((n) => n.weights.map((w) => w.name)));
      const initializers = new Set(index.tensors.filter((t) => t.where !== 'constant').map((t) => t.name));
      for (const e of graph.edges)
        assert.ok(
          !(weightNames.has(e.tensor) && initializers.has(e.tensor)),
          `${e.tensor} is a weight, not an edge`,
        );
      // Every initializer read in the main graph appears on a node.
      for (const t of index.tensors)
        if (
          t.graph === 'main' &&
          t.where === 'initializer' &&
          t.consumers.some((c) => index.nodes[c.nodeId].graph === 'main')
        )
          assert.ok(weightNames.has(t.name), t.name);
    });
  }

  it('labels edges with shapes the model records', () => {
    const { graph } = graphOf('tiny_bert_random_inline.onnx');
    const fromInput = graph.edges.find((e) => graph.nodes[e.from].kind === 'input');
    assert.ok(fromInput?.shape, 'an input edge has a shape');
    assert.match(fromInput!.shape!, /int64|float32/);
  });

  it('finds the transformer layers of tiny_bert and gpt2 by name prefix', () => {
    const bert = graphOf('tiny_bert_random_inline.onnx').graph;
    assert.deepEqual(
      bert.blocks.map((b) => b.key),
      ['layers.0', 'layers.1'],
    );
    // The layers repeat: same op types in the same order.
    const ops = (b: number) => bert.blocks[b].nodes.map((n) => bert.nodes[n].opType).join(',');
    assert.equal(ops(0), ops(1));
    assert.ok(bert.blocks[0].nodes.length > 20);
    for (const b of bert.blocks) for (const n of b.nodes) assert.equal(bert.nodes[n].block, b.index);

    const gpt2 = graphOf('ortgenai_tiny_random_gpt2_fp32_past.onnx').graph;
    assert.deepEqual(
      gpt2.blocks.map((b) => b.key),
      ['transformer.h.0', 'transformer.h.1', 'transformer.h.2', 'transformer.h.3', 'transformer.h.4'],
    );
    for (const b of gpt2.blocks)
      assert.ok(
        b.nodes.some((n) => gpt2.nodes[n].opType === 'Attention'),
        `${b.key} holds its attention`,
      );
  });

  it('reads numbered prefixes of node and weight names alike', () => {
    assert.deepEqual(blockKeyOf('/model/layers.3/self_attn/MatMul'), {
      family: 'model.layers.',
      key: 'model.layers.3',
      number: 3,
    });
    assert.equal(blockKeyOf('model.layers.3.mlp.down_proj.weight')?.key, 'model.layers.3');
    assert.equal(blockKeyOf('encoder.layer.11.attention.self.query.weight')?.key, 'encoder.layer.11');
    assert.equal(blockKeyOf('/transformer/h.0/attn/MatMul')?.key, 'transformer.h.0');
    for (const plain of [
      'MatMul_12',
      'GptAttention_0_output',
      'conv2d_3/Conv2D',
      'batch_norm_12.tmp_2',
      '/conv1/Conv',
    ])
      assert.equal(blockKeyOf(plain), undefined, plain);
  });

  it('needs two numbers of a family to call it repeated', () => {
    const node = (index: number, name: string) => ({
      index,
      kind: 'op',
      name,
      named: true,
      outputs: [],
      weights: [],
    });
    const one = findBlocks([node(0, '/enc/layers.0/A'), node(1, '/enc/layers.0/B')]);
    assert.equal(one.length, 0);
    const two = findBlocks([
      node(0, '/enc/layers.0/A'),
      node(1, '/enc/layers.0/B'),
      node(2, '/enc/layers.1/A'),
      node(3, '/enc/layers.1/B'),
      node(4, '/head/MatMul'),
    ]);
    assert.deepEqual(
      two.map((b) => [b.key, b.nodes]),
      [
        ['enc.layers.0', [0, 1]],
        ['enc.layers.1', [2, 3]],
      ],
    );
  });

  it('builds the graph of a subgraph body on demand', () => {
    const { index } = graphOf('silero_vad_legacy.onnx');
    const sub = index.graphs.find((g) => g.path !== 'main' && g.kind === 'graph' && g.nodeIds.length > 0)!;
    assert.ok(sub, 'silero_vad_legacy has If/Loop bodies');
    const { graph } = graphOf('silero_vad_legacy.onnx', sub.path);
    assert.equal(graph.opCount, sub.nodeIds.length);
    assert.ok(graph.graphs.length === index.graphs.length);
    assert.throws(() => graphOf('silero_vad_legacy.onnx', 'no such graph'), /no graph/);
  });
});

describe('graph layout', () => {
  it('places every node of a small graph without overlaps', () => {
    const { graph } = graphOf('tiny_bert_random_inline.onnx');
    const all = graph.blocks.map((b) => b.index);
    const laid = layoutGraph(graph, { expanded: all });
    assert.equal(laid.nodes.filter(Boolean).length, graph.nodes.length);
    assert.equal(overlaps(graph, laid.nodes), 0);
    // Both layers repeat: laid out once, placed twice.
    const a = graph.blocks[0].nodes.map((n) => laid.nodes[n]!);
    const b = graph.blocks[1].nodes.map((n) => laid.nodes[n]!);
    const dx = b[0].x - a[0].x;
    const dy = b[0].y - a[0].y;
    a.forEach((box, i) => assert.deepEqual([b[i].x - dx, b[i].y - dy], [box.x, box.y]));
    for (const e of laid.edges) assert.ok(e.points.length >= 4 && e.points.every(Number.isFinite));
    for (const box of laid.nodes)
      assert.ok(
        box!.x >= 0 &&
          box!.y >= 0 &&
          box!.x + box!.width <= laid.width &&
          box!.y + box!.height <= laid.height,
      );
  });

  it('collapses blocks into one box each and reroutes their edges', () => {
    const { graph } = graphOf('ortgenai_tiny_random_gpt2_fp32_past.onnx');
    const laid = layoutGraph(graph, { expanded: [] });
    for (const b of graph.blocks) {
      assert.ok(laid.blocks[b.index].collapsed);
      for (const n of b.nodes) assert.equal(laid.nodes[n], null);
    }
    const ends = new Set(laid.edges.flatMap((e) => [e.from, e.to]));
    for (const b of graph.blocks) assert.ok(ends.has(-1 - b.index), `${b.key} has edges`);
    assert.ok(laid.edges.every((e) => e.from !== e.to));
  });

  it('cuts a long graph into segments stacked top to bottom', () => {
    const { graph } = graphOf('ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const flat = { ...graph, blocks: [], nodes: graph.nodes.map((n) => ({ ...n, block: undefined })) };
    const laid = layoutGraph(flat, { segmentSize: 40 });
    assert.ok(laid.runs >= Math.ceil(drawable(graph) / 40));
    assert.equal(laid.nodes.filter(Boolean).length, drawable(graph));
    assert.equal(overlaps(flat, laid.nodes), 0);
  });

  it('opens a big graph without named layers as collapsed sections, each laid out on demand', () => {
    const { graph } = graphOf('ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const sections = graph.blocks.filter((b) => b.family === 'section:');
    assert.equal(sections.length, graph.blocks.length);
    const folded = graph.nodes.filter((n) => n.folded !== undefined);
    assert.ok(graph.opCount > 250 && sections.length >= Math.ceil((graph.opCount - folded.length) / 80));
    const covered = new Set(sections.flatMap((b) => b.nodes));
    assert.ok(
      covered.size >= graph.opCount - folded.length - 2,
      `${covered.size} of ${graph.opCount} in sections`,
    );
    // Weights kept in Constant nodes: the Constant is listed, folded into the consumer that shows its weight.
    assert.ok(folded.length > 50, `${folded.length} folded Constants`);
    for (const n of folded) {
      assert.equal(n.opType, 'Constant');
      assert.ok(graph.nodes[n.folded!].weights.some((w) => w.name === n.outputs[0]));
      assert.ok(!covered.has(n.index));
    }
    for (const b of sections) {
      assert.ok(b.nodes.length >= 2 && b.nodes.length <= 80);
      // Consecutive in model order.
      b.nodes.forEach((n, i) => i === 0 || assert.equal(n, b.nodes[i - 1] + 1));
    }
    const first = layoutGraph(graph);
    assert.deepEqual(first.expanded, []);
    assert.equal(first.runs, 1);
    assert.equal(first.nodes.filter(Boolean).length, drawable(graph) - covered.size);
    const one = layoutGraph(graph, { expanded: [2] });
    for (const n of sections[2].nodes) assert.ok(one.nodes[n], `node ${n} of section 3 drawn`);
    const all = layoutGraph(graph, { expanded: sections.map((b) => b.index) });
    assert.equal(all.nodes.filter(Boolean).length, drawable(graph));
    // A small graph gets no sections.
    assert.ok(!graphOf('tiny_bert_random_inline.onnx').graph.blocks.some((b) => b.family === 'section:'));
  });

  it('joins chains (one edge out, one edge in) into one dagre box, stacked in a column', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const items = ids.map((id, i) => ({ id, width: 90 + 10 * i, height: id === 'b' ? 30 : 44 }));
    const edges: [string, string][] = [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['c', 'e'],
      ['d', 'f'],
      ['e', 'f'],
      ['f', 'g'],
      ['f', 'g'],
    ];
    assert.deepEqual(findChains(items, edges), [
      ['a', 'b', 'c'],
      ['f', 'g'],
    ]);
    // A ring of links (blocks of a top level can make one) has no head: single boxes, still laid out.
    const ring: [string, string][] = [
      ['x', 'y'],
      ['y', 'x'],
    ];
    const pair = ['x', 'y'].map((id) => ({ id, width: 100, height: 44 }));
    assert.deepEqual(findChains(pair, ring), []);
    const round = new DagreRuns().layout(pair, ring);
    assert.ok(round.points.get('x->y')!.length >= 4 && round.points.get('y->x')!.length >= 4);
    const runs = new DagreRuns();
    const laid = runs.layout(items, edges);
    const c = (id: string) => laid.centers.get(id)!;
    const size = (id: string) => items.find((it) => it.id === id)!;
    for (const [u, v] of [
      ['a', 'b'],
      ['b', 'c'],
      ['f', 'g'],
    ]) {
      assert.equal(c(u).x, c(v).x);
      assert.equal(c(v).y - c(u).y, size(u).height / 2 + 34 + size(v).height / 2);
    }
    assert.ok(c('d').y > c('c').y && c('e').y > c('c').y && c('d').x !== c('e').x);
    for (const [u, v] of edges) {
      const pts = laid.points.get(`${u}->${v}`);
      assert.ok(pts && pts.length >= 4 && pts.every(Number.isFinite), `${u}->${v} has points`);
    }
    for (const id of ids) {
      const p = c(id);
      assert.ok(p.x - size(id).width / 2 >= 0 && p.x + size(id).width / 2 <= laid.width, id);
    }
    assert.equal(runs.made, 1);
    assert.deepEqual(runs.layout(items, edges), laid);
    assert.equal(runs.made, 1, 'the same boxes and edges are laid out once');
  });

  it('stacks a residual stack in one column, each residual edge drawn beside the run it skips', () => {
    // a → x1 → x2 → b → y → c, with residual edges a → b and b → c; if z reads a too, a → b skips no run.
    const edges: [string, string][] = [
      ['a', 'x1'],
      ['x1', 'x2'],
      ['x2', 'b'],
      ['a', 'b'],
      ['b', 'y'],
      ['y', 'c'],
      ['b', 'c'],
    ];
    assert.deepEqual(findBypasses(edges), [
      { from: 'a', to: 'b', around: ['x1', 'x2'] },
      { from: 'b', to: 'c', around: ['y'] },
    ]);
    assert.deepEqual(findBypasses([...edges, ['a', 'z']]), [{ from: 'b', to: 'c', around: ['y'] }]);
    // x1 also reads into c: neither run is one to one any more.
    assert.deepEqual(findBypasses([...edges, ['x1', 'c']]), []);
    const ids = ['a', 'x1', 'x2', 'b', 'y', 'c'];
    const items = ids.map((id, i) => ({ id, width: 96 + 8 * i, height: 44 }));
    const laid = new DagreRuns().layout(items, edges);
    const c = (id: string) => laid.centers.get(id)!;
    ids.forEach((id, i) => i === 0 || assert.equal(c(id).y - c(ids[i - 1]).y, 44 + 34));
    assert.ok(ids.every((id) => c(id).x === c('a').x));
    const side = laid.points.get('a->b')!;
    assert.equal(side.length, 8);
    // Beside x1 and x2, inside the laid-out width.
    const right = c('x2').x + items[2].width / 2;
    assert.ok(side[2] > right && side[2] === side[4] && side[2] < laid.width, `${side[2]} beside ${right}`);
    assert.deepEqual([side[3], side[5]], [c('x1').y - 22, c('x2').y + 22]);
    for (const [u, v] of edges) assert.ok(laid.points.get(`${u}->${v}`)!.length >= 4, `${u}->${v}`);
  });

  it('lays out only what changed when one more section is expanded, as a fresh layout would', () => {
    const { graph } = graphOf('ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const dagre = new DagreRuns();
    const one = layoutGraph(graph, { expanded: [2], dagre });
    assert.equal(one.runs, 2);
    const two = layoutGraph(graph, { expanded: [2, 3], dagre });
    assert.equal(two.runs, 2, 'section 4 and the top level');
    const fresh = layoutGraph(graph, { expanded: [2, 3] });
    assert.equal(fresh.runs, 3);
    assert.deepEqual({ ...two, runs: 0 }, { ...fresh, runs: 0 });
    assert.equal(layoutGraph(graph, { expanded: [2], dagre }).runs, 0);
  });
});

describe('node actions', () => {
  it('exclusion patterns match exactly the node weights, added to what the setting holds', () => {
    const one = exactPattern('model.layers.0.mlp.down_proj.weight');
    assert.ok(new RegExp(one).test('model.layers.0.mlp.down_proj.weight'));
    assert.ok(!new RegExp(one).test('model.layers.0.mlp.down_proj.weight2'));
    assert.ok(!new RegExp(one).test('model.layers.0Xmlp.down_proj.weight'));
    assert.equal(withExcluded('', ['fc1.weight']), '^fc1\\.weight$');
    const both = withExcluded('lm_head', ['fc1.weight', 'lm_head.weight'])!;
    assert.equal(both, 'lm_head|^fc1\\.weight$');
    assert.equal(withExcluded(both, ['fc1.weight']), undefined);
    assert.equal(withExcluded('(', ['a']), '(|^a$');
    const any = new RegExp(exactAny(['a.w', 'b.w']));
    assert.ok(any.test('a.w') && any.test('b.w') && !any.test('c.w') && !any.test('a.w.x'));
  });

  it('quantize --only leaves every other weight in float, --exclude leaves that one', () => {
    const model = openModel(testModel('tiny_bert_random_inline.onnx'));
    try {
      const plan = (o: Partial<QuantizeOptions>) =>
        planQuantize(model.index, model.source, model.resolveExternal, { ...DEFAULT_QUANTIZE_OPTIONS, ...o });
      const all = plan({}).tensors.map((t) => t.name);
      assert.ok(all.length > 2);
      const target = all[1];
      assert.deepEqual(
        plan({ only: new RegExp(exactAny([target])) }).tensors.map((t) => t.name),
        [target],
      );
      const rest = plan({ exclude: new RegExp(withExcluded('', [target])!) });
      assert.deepEqual(
        rest.tensors.map((t) => t.name),
        all.filter((n) => n !== target),
      );
      assert.ok(rest.skipped.some((s) => s.reason === 'excluded by --exclude'));
    } finally {
      model.close();
    }
  });
});
