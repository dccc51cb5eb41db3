/**
 * Measures the human-face rule of src/predict/human.ts: on photos with and without human faces (assets/photos/ and
 * the sample photos of @vladmandic/face-api), and on variants of each made here (mirrored, grayscale, half size),
 * counts the hand-marked human faces found and the false faces (detections that contain
 * no hand-marked face) before the rule (every SSD detection at min score 0.5), after its landmark stage, and after
 * both stages (landmarks and the COCO person check of src/predict/coco.ts). Prints the markdown tables of
 * docs/predict-faces.md and every detection's rule values.
 *
 * Usage: `npx tsx scripts/face-filter-measure.ts [--backend wasm|cpu|...]` (about 2 minutes on wasm).
 *
 * A face counts as found when a box contains its hand-marked centre; a box containing no centre is a false face.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { initBackend, parseBackendChoice } from '../src/backend/select';
import { COCO_MIN_SCORE } from '../src/predict/coco';
import { decodeForDetection, detectFacesChecked, type Detection } from '../src/predict/detect';
import { PHOTOS, photoPath, type MeasuredPhoto } from '../test/predict/measured-photos';

type Mark = [number, number];

interface Variant {
  name: string;
  png: Buffer;
  marks: Mark[];
}

/** The variants of a photo: as it is, mirrored left-right, grayscale, half size (Lanczos-3); marks moved with them. */
async function variants(file: string, marks: readonly Mark[]): Promise<Variant[]> {
  const { data, info } = await sharp(file).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const W = info.width;
  const H = info.height;
  const raw = () => sharp(data, { raw: { width: W, height: H, channels: 3 } });
  const out: Variant[] = [
    { name: 'as is', png: await raw().png().toBuffer(), marks: [...marks] },
    { name: 'mirrored', png: await raw().flop().png().toBuffer(), marks: marks.map(([x, y]) => [W - x, y]) },
    { name: 'grayscale', png: await raw().grayscale().png().toBuffer(), marks: [...marks] },
    {
      name: 'half size',
      png: await raw()
        .resize(Math.round(W / 2), Math.round(H / 2), { kernel: 'lanczos3' })
        .png()
        .toBuffer(),
      marks: marks.map(([x, y]) => [x / 2, y / 2]),
    },
  ];
  return out;
}

const inside = (d: Detection, [x, y]: Mark) => x >= d.box.left && x <= d.box.left + d.box.width && y >= d.box.top && y <= d.box.top + d.box.height;

/** Found marks and false faces among detections. */
function count(dets: readonly Detection[], marks: readonly Mark[]): { found: number; falseFaces: number } {
  return { found: marks.filter((m) => dets.some((d) => inside(d, m))).length, falseFaces: dets.filter((d) => !marks.some((m) => inside(d, m))).length };
}

interface Counts {
  found: number;
  falseFaces: number;
}
interface Row {
  photo: MeasuredPhoto;
  variant: string;
  marked: number;
  before: Counts;
  /** After the landmark stage only. */
  landmarks: Counts;
  /** After both stages (the rule as predict applies it). */
  after: Counts;
  detections: Array<Detection & { trueFace: boolean }>;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const b = args.indexOf('--backend');
  await initBackend(b >= 0 ? parseBackendChoice(args[b + 1], '--backend') : undefined);
  const rows: Row[] = [];
  for (const photo of PHOTOS) {
    const file = photoPath(photo);
    readFileSync(file); // a clear ENOENT when a photo is missing
    for (const v of await variants(file, photo.faces)) {
      const dets = await detectFacesChecked(await decodeForDetection(v.png), 0.5, true);
      rows.push({
        photo,
        variant: v.name,
        marked: v.marks.length,
        before: count(dets, v.marks),
        landmarks: count(
          dets.filter((d) => d.human!.landmarks),
          v.marks,
        ),
        after: count(
          dets.filter((d) => d.human!.human),
          v.marks,
        ),
        detections: dets.map((d) => ({ ...d, trueFace: v.marks.some((m) => inside(d, m)) })),
      });
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  const sum = (list: Row[], f: (r: Row) => number) => list.reduce((s, r) => s + f(r), 0);
  const header = [
    'photo',
    'what it shows',
    'human faces marked by hand',
    'found before',
    'found after landmarks',
    'found after both',
    'false faces before',
    'false faces after landmarks',
    'false faces after both',
  ];
  const cells = (list: Row[]) => [
    sum(list, (r) => r.marked),
    sum(list, (r) => r.before.found),
    sum(list, (r) => r.landmarks.found),
    sum(list, (r) => r.after.found),
    sum(list, (r) => r.before.falseFaces),
    sum(list, (r) => r.landmarks.falseFaces),
    sum(list, (r) => r.after.falseFaces),
  ];
  const table = (list: Row[], label: (r: Row) => string[]) => [
    line(header),
    line(header.map(() => '---')),
    ...list.map((r) => line([...label(r), ...cells([r])])),
    line(['**total**', `${list.length} images`, ...cells(list)]),
  ];
  const asIs = rows.filter((r) => r.variant === 'as is');
  console.log('### The photos as they are\n');
  console.log(table(asIs, (r) => [r.photo.file, r.photo.shows]).join('\n'));
  console.log('\n### Every variant (as is, mirrored, grayscale, half size)\n');
  console.log(line(['variant', 'images', ...header.slice(2)]));
  console.log(line(['---', '---', ...header.slice(2).map(() => '---')]));
  for (const variant of [...new Set(rows.map((r) => r.variant))]) {
    const list = rows.filter((r) => r.variant === variant);
    console.log(line([variant, list.length, ...cells(list)]));
  }
  console.log(line(['**all**', rows.length, ...cells(rows)]));
  const coco = (d: Detection) => d.human!.coco!;
  const animal = (d: Detection) => (coco(d).animal > 0 ? `${coco(d).animalClass} ${coco(d).animal.toFixed(2)}` : '-');
  console.log(
    `\n### Every false face (before the rule), with the rule values (nose tip, mouth centre: fraction of the box height below its top; COCO: best person and animal score, >= ${COCO_MIN_SCORE}, of the boxes containing the face centre)\n`,
  );
  console.log(line(['photo', 'variant', 'SSD score', 'nose', 'mouth', 'landmarks pass', 'COCO person', 'COCO animal', 'kept', 'why rejected']));
  console.log(line(['---', '---', '---', '---', '---', '---', '---', '---', '---', '---']));
  for (const r of rows)
    for (const d of r.detections.filter((x) => !x.trueFace))
      console.log(
        line([
          r.photo.file,
          r.variant,
          d.score.toFixed(2),
          d.human!.noseY.toFixed(2),
          d.human!.mouthY.toFixed(2),
          d.human!.landmarks ? 'yes' : 'no',
          coco(d).person.toFixed(2),
          animal(d),
          d.human!.human ? 'yes' : 'no',
          d.human!.reason || '',
        ]),
      );
  const range = (list: Detection[], f: (d: Detection) => number) => {
    const v = list.map(f).sort((a, c) => a - c);
    return v.length ? `${v[0].toFixed(3)}-${v[v.length - 1].toFixed(3)} (median ${v[Math.floor(v.length / 2)].toFixed(3)})` : '-';
  };
  const trueFaces = rows.flatMap((r) => r.detections.filter((d) => d.trueFace).map((d) => ({ ...d, photo: r.photo.file, variant: r.variant })));
  const falseFaces = rows.flatMap((r) => r.detections.filter((d) => !d.trueFace));
  const lmFalse = falseFaces.filter((d) => d.human!.landmarks);
  const fields: Array<[string, (d: Detection) => number]> = [
    ['nose', (d) => d.human!.noseY],
    ['mouth', (d) => d.human!.mouthY],
    ['COCO person', (d) => coco(d).person],
    ['COCO animal', (d) => coco(d).animal],
    ['COCO person - animal', (d) => coco(d).person - coco(d).animal],
  ];
  for (const [name, list] of [
    ['Detections of hand-marked faces', trueFaces],
    ['False faces', falseFaces],
    ['False faces passing the landmarks', lmFalse],
  ] as const)
    console.log(`\n${name}: ${list.length}; ${fields.map(([f, get]) => `${f} ${range([...list], get)}`).join('; ')}`);
  console.log('\nThe hand-marked faces with the lowest COCO person score:\n');
  console.log(line(['photo', 'variant', 'SSD score', 'COCO person', 'COCO animal']));
  console.log(line(['---', '---', '---', '---', '---']));
  for (const d of [...trueFaces].sort((a, b) => coco(a).person - coco(b).person).slice(0, 5))
    console.log(line([d.photo, d.variant, d.score.toFixed(2), coco(d).person.toFixed(2), animal(d)]));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
