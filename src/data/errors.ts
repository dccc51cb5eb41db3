/**
 * Errors of the data layer. Every message names the file, the line (1-based, the CSV header is line 1) when one
 * applies, and what was expected, so a user can open the file at the right place.
 */
export class DataError extends Error {
  /** Path of the offending file. */
  readonly file: string;
  /** 1-based line number in `file`, or undefined when the problem is not tied to a line. */
  readonly line?: number;

  constructor(file: string, line: number | undefined, message: string) {
    super(line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`);
    this.name = 'DataError';
    this.file = file;
    this.line = line;
  }
}

/** Where to get the data and the expected layout; appended to "file not found" errors. */
export const DOWNLOAD_HELP = [
  'ferlab expects the data directory to hold:',
  '  fer2013.csv or fer2013.csv.gz  FER2013 (columns emotion,pixels,Usage; 35,887 rows; md5 of the CSV',
  '                                 f8428a1edbd21e88f42c73edd2a14f95), from',
  '                                 https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge/data',
  '  fer2013new.csv                 FER+ votes, from https://github.com/microsoft/FERPlus (needed for FER+ label sets)',
  'Point ferlab at the directory with --data-dir DIR or the FERLAB_DATA_DIR environment variable (default: data/).',
].join('\n');
