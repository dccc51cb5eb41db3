import pl from 'nodejs-polars';

/** Prints rows (objects with the same keys) as a table through nodejs-polars, all columns shown. */
export function printTable(rows: Array<Record<string, string | number>>): void {
  if (!rows.length) {
    console.log('(no rows)');
    return;
  }
  const cols = Object.keys(rows[0]);
  // strings as given: the caller formats numbers (percentages, times)
  const df = pl.DataFrame(Object.fromEntries(cols.map((c) => [c, rows.map((r) => String(r[c]))])));
  process.env.POLARS_TABLE_WIDTH = '240';
  process.env.POLARS_FMT_MAX_COLS = String(cols.length);
  process.env.POLARS_FMT_MAX_ROWS = String(rows.length);
  process.env.POLARS_FMT_STR_LEN = '120';
  process.env.POLARS_FMT_TABLE_HIDE_COLUMN_DATA_TYPES = '1';
  process.env.POLARS_FMT_TABLE_HIDE_DATAFRAME_SHAPE_INFORMATION = '1';
  console.log(df.toString());
}
