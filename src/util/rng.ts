/**
 * Seeded pseudo-random numbers for everything ferlab randomises on the JavaScript side (shuffling, augmentation,
 * FER+ `probability`-mode sampling, per-run seeds): sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
 * PractRand-clean), seeded through splitmix32. The same seed gives the same stream on every platform.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed any integer (only the low 32 bits are used). */
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Next uint32. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T extends { length: number; [i: number]: number }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** The generator's whole state (four uint32), e.g. for a checkpoint: {@link setState} continues the stream exactly. */
  getState(): [number, number, number, number] {
    // the xor in u32() leaves int32 values in the fields; as uint32 they are the same state
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  /**
   * Restores a state from {@link getState}.
   * @throws Error when `state` is not four uint32 values.
   */
  setState(state: readonly number[]): this {
    if (state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff))
      throw new Error(`Rng state must be four uint32 values, got ${JSON.stringify(state)}`);
    [this.a, this.b, this.c, this.d] = state;
    return this;
  }

  /** A new independent generator derived from this one (for a sub-task: a layer, a worker, an epoch). */
  fork(): Rng {
    return new Rng(this.u32());
  }
}
