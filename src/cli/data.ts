import { loadDataset } from '../data/dataset';
import { buildLabelSet, classCounts, LABEL_SETS } from '../data/labels';
import { printTable } from './table';

/** `ferlab data`: loads (and caches) the data, then prints images per split and class of every label set. */
export async function dataSummary(dataDir?: string, cacheDir?: string): Promise<void> {
  const ds = await loadDataset({ dataDir, cacheDir, log: (m) => console.log(m) });
  const f = ds.source.folder;
  if (f)
    console.log(
      `folder dataset ${f.root}: ${ds.n} images (${f.layout} layout; val: ${f.splits.val}; test: ${f.splits.test}); ` +
        `${f.ignored.count} non-image files ignored, ${f.skipped.length} unreadable images skipped, ${f.dropped} images left out by the classes mapping`,
    );
  else
    console.log(
      `FER2013: ${ds.n} images, md5 ${ds.source.fer2013Md5}${ds.source.fer2013Official ? ' (official)' : ' (NOT the official file)'}; FER+ votes: ${ds.ferplus ? 'yes' : 'no'}`,
    );
  const rows = LABEL_SETS.filter((n) => n === 'fer' || ds.ferplus).map((name) => {
    const ls = buildLabelSet(ds, name);
    return {
      'label set': name,
      classes: ls.numClasses,
      train: ls.train.index.length,
      val: ls.val.index.length,
      test: ls.test.index.length,
      'train per class': classCounts(ls.train, ls.numClasses).join(' '),
    };
  });
  printTable(rows);
}
