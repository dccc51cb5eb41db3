/**
 * A plotly figure spec: the `data` and `layout` arguments of Plotly.newPlot (https://plotly.com/javascript/).
 * Figure builders in src/viz return these plain objects; renderers (notebook.ts, report.ts) draw them.
 */
export interface Figure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

/** Shared look of ferlab figures: white template, compact margins, readable fonts. */
export function baseLayout(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title, font: { size: 15 } },
    template: 'plotly_white',
    font: { family: 'Inter, Helvetica, Arial, sans-serif', size: 12 },
    margin: { l: 70, r: 20, t: 50, b: 60 },
    ...extra,
  };
}

/** Qualitative colours used for label sets, splits and curves (colour-blind safe, Okabe-Ito). */
export const COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

/** Label of a class index list for axes: capitalised names. */
export function classLabels(classes: readonly string[]): string[] {
  return classes.map((c) => c.charAt(0).toUpperCase() + c.slice(1));
}
