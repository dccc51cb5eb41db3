/**
 * The photo set on which the human-face rule (src/predict/human.ts) is measured (scripts/face-filter-measure.ts,
 * docs/predict-faces.md) and tested (test/predict/human.test.ts): photos ferlab ships in assets/photos/ (sources and
 * licences in assets/photos/README.md) and the sample photos of @vladmandic/face-api's package, with every human face
 * marked by hand (its centre, in pixels of the full-size photo, placed by looking at the photo, independently of any
 * detector).
 */
import { join } from 'node:path';
import { HAND_MARKED, root, samplesDir } from './helpers';

/** A photo of the measured set. */
export interface MeasuredPhoto {
  /** File name in its folder. */
  file: string;
  /** `assets`: assets/photos/; `face-api`: node_modules/@vladmandic/face-api/demo. */
  dir: 'assets' | 'face-api';
  /** What it shows, in words. */
  shows: string;
  /** Centre of each human face, pixels of the full-size photo; empty for a photo without human faces. */
  faces: Array<[number, number]>;
}

/** Folder of the photos ferlab ships. */
export const assetsDir = join(root, 'assets', 'photos');

/** Path of a measured photo. */
export function photoPath(p: MeasuredPhoto): string {
  return join(p.dir === 'assets' ? assetsDir : samplesDir, p.file);
}

export const PHOTOS: MeasuredPhoto[] = [
  { file: 'sample1.jpg', dir: 'face-api', shows: '3 women', faces: HAND_MARKED['sample1.jpg'] },
  {
    file: 'sample2.jpg',
    dir: 'face-api',
    shows: '3 women on a sofa (one in profile, two looking down)',
    faces: [
      [430, 300],
      [985, 370],
      [1540, 300],
    ],
  },
  {
    file: 'sample3.jpg',
    dir: 'face-api',
    shows: '3 women in a bar',
    faces: [
      [680, 480],
      [1170, 380],
      [1590, 430],
    ],
  },
  {
    file: 'sample4.jpg',
    dir: 'face-api',
    shows: '4 women posing, heads tilted',
    faces: [
      [350, 330],
      [740, 210],
      [1070, 320],
      [1350, 270],
    ],
  },
  { file: 'sample5.jpg', dir: 'face-api', shows: '5 women on stairs', faces: HAND_MARKED['sample5.jpg'] },
  { file: 'sample6.jpg', dir: 'face-api', shows: '4 women standing', faces: HAND_MARKED['sample6.jpg'] },
  { file: 'astronaut.jpg', dir: 'assets', shows: 'astronaut Eileen Collins, smiling', faces: [[225, 120]] },
  { file: 'grace-hopper.jpg', dir: 'assets', shows: 'Grace Hopper in uniform', faces: [[224, 201]] },
  { file: 'smile.jpg', dir: 'assets', shows: 'a smiling woman (crop of sample3.jpg)', faces: [[230, 230]] },
  { file: 'cat.jpg', dir: 'assets', shows: 'a cat (Chelsea), head filling the frame', faces: [] },
  { file: 'dog.jpg', dir: 'assets', shows: 'a German shepherd dog', faces: [] },
  { file: 'calf.jpg', dir: 'assets', shows: "a calf's head, facing the camera", faces: [] },
  { file: 'pony.jpg', dir: 'assets', shows: 'a pony, head and mane', faces: [] },
  { file: 'macaque.jpg', dir: 'assets', shows: 'a bonnet macaque (monkey), head in three-quarter view', faces: [] },
  { file: 'proboscis-monkey.jpg', dir: 'assets', shows: 'a proboscis monkey with her baby', faces: [] },
  { file: 'lemur.jpg', dir: 'assets', shows: 'a ring-tailed lemur, facing the camera', faces: [] },
  { file: 'coffee.jpg', dir: 'assets', shows: 'a cup of coffee (no face)', faces: [] },
];
