/**
 * Labels short enough for the side bar, where the comparison's name column, the plot's legend, the layer
 * table's loss columns and the candidates' change lines are narrow. The full labels stay in tooltips and
 * the plot's text alternative.
 */

/** "uniform 4-bit (block 128)" -> "All 4-bit b128", "uniform 8-bit" -> "All 8-bit". */
export function shortBaselineLabel(label: string): string {
  return label.replace(/^uniform /, 'All ').replace(/ \(block (\d+)\)/, ' b$1');
}

/** "4-bit (block 128)" -> "4b128", "float16" -> "fp16", "float (unchanged)" -> "float"; others as they are. */
export function shortPrecisionLabel(label: string): string {
  return label
    .replace(/^(\d+)-bit \(block (\d+)\)$/, '$1b$2')
    .replace(/^float16$/, 'fp16')
    .replace(/ \(unchanged\)$/, '');
}
