import sharp from 'sharp';
import { IMAGE_PIXELS, IMAGE_SIZE } from './classes';

/**
 * Image files -> FER2013-style pixels: the one conversion that folder datasets (a class per folder) and `predict`
 * (faces cropped from photos and video frames) share, so a model sees every image the way FER2013's images were made:
 * 48x48 8-bit grayscale of a face crop. Decoding is sharp's (libvips: JPEG, PNG, WebP, GIF, TIFF, AVIF; any size,
 * colour or gray); a library, not ferlab's own code.
 */

/** A rectangle in pixels of the (EXIF-rotated) image: left/top inclusive, width/height > 0. */
export interface PixelBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What {@link toFerPixels} returns. */
export interface FerPixels {
  /** `[48 * 48]` uint8 grayscale, row-major (the layout of fer2013.csv's `pixels` column). */
  pixels: Uint8Array;
  /** Size of the decoded image after EXIF orientation (before any crop), pixels. */
  width: number;
  height: number;
}

/**
 * Largest image ferlab decodes, in pixels (width x height as stored): 100 megapixels, passed to sharp as
 * `limitInputPixels` wherever a user's image is decoded (folder datasets, `predict` photos and video frames, detection,
 * annotation); sharp checks it from the file header, before decoding. Why 100 MP: decoding costs about 4 bytes per
 * pixel (RGB(A) raw, plus libvips buffers), ~400 MB at this limit, against ~1 GB for a 0.26 MB PNG of 16383x16383
 * that sharp's own default limit (16383 x 16383 = 268,402,689) admits. The limit still takes any camera photo of up to
 * 100 MP (48 MP phone photos, 61 MP full-frame cameras); faces need far less: the detector works on at most 1280 px
 * (src/predict/detect.ts) and the model on 48x48. Larger images: downscale them first.
 */
export const MAX_INPUT_PIXELS = 100_000_000;

/** sharp's input options for a user's image: fail on decoding errors, refuse more than {@link MAX_INPUT_PIXELS}. */
export const DECODE_OPTIONS = { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS } as const;

/**
 * The message of a decoding error, with sharp's "Input image exceeds pixel limit" spelt out: the image's size (read
 * from its header) and the limit.
 * @param input the image (path or bytes) that failed.
 */
export async function decodeErrorMessage(e: unknown, input: string | Buffer): Promise<string> {
  const msg = (e as Error).message;
  if (!/exceeds pixel limit/i.test(msg)) return msg;
  const size = await sharp(input, { limitInputPixels: false })
    .metadata()
    .then((m) => `${m.width}x${m.height} = ${(m.width ?? 0) * (m.height ?? 0)} pixels`)
    .catch(() => 'size unknown');
  return `the image is too large (${size}): ferlab decodes at most ${MAX_INPUT_PIXELS} pixels (MAX_INPUT_PIXELS, src/data/image.ts); downscale it first`;
}

/** How {@link toFerPixels} converts an image (recorded in run records and model metadata). */
export const IMAGE_CONVERSION =
  'sharp: EXIF orientation applied, alpha dropped, grayscale (libvips b-w), 8-bit, optional crop, resized to 48x48 (fill, Lanczos-3; no-op for 48x48 input)' as const;

/**
 * Decodes an image and converts it (or a crop of it) to 48x48 8-bit grayscale, as FER2013 stores its images.
 * A 48x48 grayscale PNG comes back pixel-exact.
 *
 * Two sharp pipelines: decode -> EXIF rotation -> alpha dropped (as PIL's `convert('L')` ignores it) -> grayscale ->
 * raw 8-bit pixels at full size; then crop -> resize. The intermediate image stays raw (never re-encoded: a JPEG is
 * decoded once, not recompressed), and the resize reads full-size pixels (no JPEG shrink-on-load).
 *
 * @param input a file path or the encoded bytes.
 * @param crop region of the EXIF-rotated image to keep (clipped to the image); default: the whole image.
 * @throws Error naming the file (or "image buffer") when it cannot be decoded (unsupported, truncated, corrupt, larger
 *   than {@link MAX_INPUT_PIXELS}: the message gives its size and the limit) or the crop is empty.
 */
export async function toFerPixels(input: string | Buffer, crop?: PixelBox): Promise<FerPixels> {
  const { pixels, width, height } = await toFerCrops(input, [crop]);
  return { pixels: pixels[0], width, height };
}

/**
 * {@link toFerPixels} for several crops of one image, decoding it once (a photo with several faces): each crop gives
 * exactly the pixels `toFerPixels(input, crop)` gives.
 *
 * @param crops regions of the EXIF-rotated image; `undefined` = the whole image.
 * @returns one `[48 * 48]` uint8 array per crop, in order, and the decoded image's size.
 * @throws Error naming the file (or "image buffer") when it cannot be decoded (also over {@link MAX_INPUT_PIXELS}) or a
 *   crop is empty.
 */
export async function toFerCrops(
  input: string | Buffer,
  crops: ReadonlyArray<PixelBox | undefined>,
): Promise<{ pixels: Uint8Array[]; width: number; height: number }> {
  const what = typeof input === 'string' ? input : 'image buffer';
  try {
    // rotate() first: EXIF orientation, so boxes and crops refer to the image as displayed
    const gray = await sharp(input, DECODE_OPTIONS).rotate().removeAlpha().grayscale().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const { width, height, channels } = gray.info;
    if (channels !== 1) throw new Error(`grayscale conversion gave ${channels} channels, expected 1`);
    const pixels: Uint8Array[] = [];
    for (const crop of crops) {
      let img = sharp(gray.data, { raw: { width, height, channels: 1 } });
      if (crop) {
        const left = Math.max(0, Math.round(crop.left));
        const top = Math.max(0, Math.round(crop.top));
        const right = Math.min(width, Math.round(crop.left + crop.width));
        const bottom = Math.min(height, Math.round(crop.top + crop.height));
        if (right <= left || bottom <= top) throw new Error(`crop ${JSON.stringify(crop)} lies outside the ${width}x${height} image`);
        img = img.extract({ left, top, width: right - left, height: bottom - top });
      }
      const { data, info } = await img
        .resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'fill', kernel: 'lanczos3' })
        .toColourspace('b-w')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 1 || data.length !== IMAGE_PIXELS)
        throw new Error(`conversion gave ${info.width}x${info.height}x${info.channels}, expected ${IMAGE_SIZE}x${IMAGE_SIZE}x1`);
      pixels.push(new Uint8Array(data.buffer, data.byteOffset, data.length).slice());
    }
    return { pixels, width, height };
  } catch (e) {
    throw new Error(`${what}: cannot read it as an image (${await decodeErrorMessage(e, input)})`);
  }
}
