/**
 * SGD with momentum / Nesterov (PyTorch's torch.optim.SGD algorithm, re-implemented here in float64 from its
 * documentation), ReduceLROnPlateau (a hand-worked sequence), balanced class weights and the class-weighted loss
 * (hand-computed), and the strict settings of these knobs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { createOptimizer, Sgd } from '../../src/train/optimizer';
import { learningRate, plateauLearningRate } from '../../src/train/schedule';
import { balancedClassWeights, lossFn } from '../../src/train/loss';
import { TrainSettingsSchema } from '../../src/train/settings';
import { applyOverrides, DEFAULT_SETTINGS } from '../../src/exp/config';

/** torch.optim.SGD (dampening 0) written out in float64 for one tensor. */
function reference(x0: number[], grads: number[][], lr: number[], mu: number, nesterov: boolean, wd: number): number[] {
  const x = [...x0];
  let b: number[] | undefined;
  grads.forEach((g0, t) => {
    const g = g0.map((v, i) => v + wd * x[i]);
    b = b ? b.map((v, i) => mu * v + g[i]) : [...g];
    const d = nesterov ? g.map((v, i) => v + mu * b![i]) : b;
    for (let i = 0; i < x.length; i++) x[i] -= lr[t] * d[i];
  });
  return x;
}

test('SGD with Nesterov momentum and weight decay matches the PyTorch algorithm over 3 steps (kernel and bias)', async () => {
  await tf.setBackend('cpu');
  const kernel0 = [0.5, -1.25, 2, 0.75, -0.3, 1.1];
  const bias0 = [0.2, -0.4];
  const gk = [
    [0.1, -0.2, 0.3, 0.05, -0.15, 0.2],
    [0.05, 0.1, -0.2, 0.3, 0.1, -0.1],
    [-0.3, 0.2, 0.1, -0.05, 0.25, 0.05],
  ];
  const gb = [
    [0.3, -0.1],
    [-0.2, 0.4],
    [0.1, 0.1],
  ];
  const lrs = [0.1, 0.05, 0.02];
  for (const nesterov of [false, true]) {
    const k = tf.variable(tf.tensor2d(kernel0, [3, 2]), true, `k${nesterov}`);
    const b = tf.variable(tf.tensor1d(bias0), true, `b${nesterov}`);
    const opt = createOptimizer({ ...TrainSettingsSchema.parse({}).optimizer, name: 'sgd', momentum: 0.9, nesterov, weightDecay: 0.01 });
    assert.ok(opt instanceof Sgd);
    for (let t = 0; t < 3; t++) opt.apply([k, b], { [k.name]: tf.tensor2d(gk[t], [3, 2]), [b.name]: tf.tensor1d(gb[t]) }, lrs[t]);
    const ek = reference(kernel0, gk, lrs, 0.9, nesterov, 0.01);
    const eb = reference(bias0, gb, lrs, 0.9, nesterov, 0); // no weight decay on biases (rank 1)
    const ak = Array.from(k.dataSync());
    const ab = Array.from(b.dataSync());
    ek.forEach((v, i) => assert.ok(Math.abs(ak[i] - v) < 1e-6, `nesterov ${nesterov}: kernel[${i}] = ${ak[i]}, expected ${v}`));
    eb.forEach((v, i) => assert.ok(Math.abs(ab[i] - v) < 1e-6, `nesterov ${nesterov}: bias[${i}] = ${ab[i]}, expected ${v}`));
    assert.is(opt.steps, 3);
    opt.dispose();
  }
});

test('SGD state round trip: a restored optimizer continues exactly like the uninterrupted one', async () => {
  await tf.setBackend('cpu');
  const cfg = { ...TrainSettingsSchema.parse({}).optimizer, name: 'sgd' as const, momentum: 0.8, nesterov: true };
  const run = (split: boolean) => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, `v${split}`);
    let opt = createOptimizer(cfg);
    for (let t = 0; t < 4; t++) {
      if (split && t === 2) {
        const st = opt.getState([v]);
        opt.dispose();
        opt = createOptimizer(cfg);
        opt.setState([v], st);
      }
      opt.apply([v], { [v.name]: tf.tensor1d([0.1 * (t + 1), -0.2, 0.05 * t]) }, 0.1);
    }
    return Array.from(v.dataSync());
  };
  assert.equal(run(true), run(false));
});

test('ReduceLROnPlateau replayed over epoch accuracies (hand-worked, factor 0.5, patience 1, cooldown 1)', () => {
  const p = { name: 'plateau' as const, factor: 0.5, patience: 1, threshold: 0.01, cooldown: 1, minLr: 0.01 };
  // PyTorch's step(): improved? (a > best * 1.01) -> bad = 0, else bad++; then if cooldown > 0: cooldown--, bad = 0;
  // then if bad > patience: lr *= factor, cooldown = 1, bad = 0.
  // epoch:    1    2    3     4    5    6    7    8    9
  // acc:     .50  .60  .605  .60  .70  .69  .69  .69  .69
  // improved: y    y    n     n    y    n    n    n    n      (.605 <= .60 * 1.01 = .606)
  // bad:      0    0    1     2>1: lr .05, cooldown 1, bad 0
  //                                 0 (cooldown 1 -> 0)
  //                                      1    2>1: lr .025, cooldown 1, bad 0
  //                                                 0 (cooldown -> 0)  1
  const acc = [0.5, 0.6, 0.605, 0.6, 0.7, 0.69, 0.69, 0.69, 0.69];
  const lr = (n: number) => plateauLearningRate(p, 0.1, acc.slice(0, n));
  assert.is(lr(0), 0.1);
  assert.is(lr(3), 0.1, 'one bad epoch is within patience');
  assert.is(lr(4), 0.05, 'two bad epochs > patience 1: halved');
  assert.is(lr(5), 0.05, 'improved (the cooldown epoch)');
  assert.is(lr(6), 0.05, 'one bad epoch');
  assert.is(lr(7), 0.025, 'second bad epoch: halved again');
  assert.is(lr(8), 0.025, 'bad epoch during cooldown not counted');
  assert.is(lr(9), 0.025, 'one counted bad epoch');
  assert.is(plateauLearningRate({ ...p, minLr: 0.04 }, 0.1, acc.slice(0, 8)), 0.04, 'never below minLr');
  assert.is(learningRate(p, 0.1, 123, 1000, 10, acc.slice(0, 4)), 0.05, 'learningRate dispatches to the plateau rule');
});

test("step schedule with the FER+ paper's absolute factors: lr, lr / 2 from epoch 20, lr / 10 from epoch 40", () => {
  const sch = TrainSettingsSchema.parse({ schedule: { name: 'step', milestones: [20, 40], factors: [0.5, 0.1] } }).schedule;
  const at = (epoch: number) => learningRate(sch, 0.05, epoch * 100, 10000, 100);
  assert.is(at(0), 0.05);
  assert.is(at(19), 0.05);
  assert.is(at(20), 0.025);
  assert.is(at(39), 0.025);
  assert.ok(Math.abs(at(40) - 0.005) < 1e-12, `epoch 40: ${at(40)}`);
  assert.throws(() => TrainSettingsSchema.parse({ schedule: { name: 'step', milestones: [20, 40], factors: [0.5] } }), /one factor per milestone/);
});

test('balanced class weights and the class-weighted cross-entropy, by hand', async () => {
  await tf.setBackend('cpu');
  // labels 0,0,0,1 over 3 classes: n=4 -> w0 = 4/(3*3) = 0.4444, w1 = 4/(3*1) = 1.3333, w2 = 0 (no images)
  const w = balancedClassWeights([0, 0, 0, 1], 3);
  assert.ok(Math.abs(w[0] - 4 / 9) < 1e-7 && Math.abs(w[1] - 4 / 3) < 1e-6 && w[2] === 0, `weights ${Array.from(w)}`);
  // two examples, logits [0, ln 3, 0] (softmax 0.2, 0.6, 0.2) and [ln 4, 0, 0] (softmax 2/3, 1/6, 1/6)
  const logits = tf.tensor2d([0, Math.log(3), 0, Math.log(4), 0, 0], [2, 3]);
  const targets = tf.tensor2d([1, 0, 0, 0, 1, 0], [2, 3]);
  const cw = tf.tensor1d([2, 0.5, 1]);
  // ce1 = -ln 0.2 (true class 0, weight 2); ce2 = -ln(1/6) (true class 1, weight 0.5)
  const expected = (2 * -Math.log(0.2) + 0.5 * -Math.log(1 / 6)) / 2.5;
  const got = (await lossFn('crossentropy', logits, targets, 0, cw).data())[0];
  assert.ok(Math.abs(got - expected) < 1e-5, `weighted loss ${got}, expected ${expected}`);
  // equal weights give the plain mean
  const plain = (await lossFn('crossentropy', logits, targets).data())[0];
  const ones = (await lossFn('crossentropy', logits, targets, 0, tf.tensor1d([1, 1, 1])).data())[0];
  assert.ok(Math.abs(plain - ones) < 1e-6, `ones ${ones} vs plain ${plain}`);
  assert.throws(() => lossFn('multi_target', logits, targets, 0, cw), /multi_target/);
});

test('settings: SGD knobs only with name sgd; overrides reach optional keys; plateau defaults from usef-kh/fer', () => {
  const s = applyOverrides(DEFAULT_SETTINGS, ['optimizer.name=sgd', 'optimizer.nesterov=true', 'classWeights=balanced', 'schedule={"name":"plateau"}']);
  assert.is(s.optimizer.name, 'sgd');
  assert.is(s.optimizer.nesterov, true);
  assert.is(s.classWeights, 'balanced');
  assert.equal(s.schedule, { name: 'plateau', factor: 0.75, patience: 5, threshold: 1e-4, cooldown: 0, minLr: 0 });
  assert.throws(() => applyOverrides(DEFAULT_SETTINGS, ['optimizer.momentum=0.9']), /optimizer\.momentum applies to SGD only/);
  assert.throws(() => applyOverrides(DEFAULT_SETTINGS, ['optimizer.bogus=1']), /unknown key 'optimizer\.bogus'/);
  assert.not.ok('name' in DEFAULT_SETTINGS.optimizer, 'the default (Adam) settings are unchanged: no optimizer name stored');
  assert.not.ok('classWeights' in DEFAULT_SETTINGS, 'no class weights in the default settings');
});

test.run();
