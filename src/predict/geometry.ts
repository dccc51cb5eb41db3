/**
 * Where a detected face is cut from its image: the one rule that `predict` (Node, through sharp) and the browser demo
 * (bundled into the page by src/demo/server.ts) share, so both give the model the same part of the picture.
 *
 * No Node or tfjs imports here: the browser bundle includes this file as it is.
 */

/** A rectangle in pixels of the displayed (EXIF-rotated) image: left/top of its top-left corner, width/height > 0. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Default margin around a detected face box, as a fraction of the box's longer side added on EACH side of the square
 * crop (0.05: the square is 1.1 x the longer side). Chosen by eye so that crops of @vladmandic/face-api's SSD
 * MobileNet v1 boxes (which run from the forehead to the chin) are framed like FER2013's images, which show the face
 * from the brows to the chin and nearly fill the 48x48 frame (Goodfellow et al. 2013, arXiv 1307.0414: faces were
 * "automatically registered so that the face is more or less centered and occupies about the same amount of space").
 */
export const DEFAULT_MARGIN = 0.05;

/**
 * The square region of the image that becomes a face's 48x48 model input: centred on the detected box, side =
 * longer box side x (1 + 2 x margin), moved (not shrunk) to lie inside the image where it fits, and clipped to the
 * image only when it is larger than the image's shorter side. A square crop keeps the face's aspect ratio when it is
 * resized to 48x48 (FER2013's images are square and undistorted).
 *
 * Coordinates are rounded to whole pixels (the crop sharp's `extract` and the page's canvas take), so the result is
 * exactly what is cut.
 *
 * @param box detected face box in pixels of the displayed image.
 * @param imageWidth image width in pixels. @param imageHeight image height in pixels.
 * @param margin fraction of the longer box side added on each side (>= 0); default {@link DEFAULT_MARGIN}.
 * @returns integer box inside `[0, imageWidth] x [0, imageHeight]`, width and height >= 1.
 * @throws Error when the image size is not positive, the box is empty or non-finite, or margin is negative.
 */
export function faceCropBox(box: Box, imageWidth: number, imageHeight: number, margin = DEFAULT_MARGIN): Box {
  if (!(imageWidth >= 1 && imageHeight >= 1)) throw new Error(`image size must be positive, got ${imageWidth}x${imageHeight}`);
  if (![box.left, box.top, box.width, box.height].every(Number.isFinite) || box.width <= 0 || box.height <= 0)
    throw new Error(`face box must be finite with positive size, got ${JSON.stringify(box)}`);
  if (!(margin >= 0)) throw new Error(`margin must be >= 0, got ${margin}`);
  const side = Math.max(1, Math.round(Math.max(box.width, box.height) * (1 + 2 * margin)));
  const place = (centre: number, extent: number) => {
    if (side >= extent) return { start: 0, size: extent };
    const start = Math.min(extent - side, Math.max(0, Math.round(centre - side / 2)));
    return { start, size: side };
  };
  const x = place(box.left + box.width / 2, imageWidth);
  const y = place(box.top + box.height / 2, imageHeight);
  return { left: x.start, top: y.start, width: x.size, height: y.size };
}
