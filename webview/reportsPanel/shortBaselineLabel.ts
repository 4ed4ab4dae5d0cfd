/**
 * A uniform baseline's label short enough for the side bar, where the comparison's name column and the
 * plot's legend are narrow: "uniform 4-bit (block 128)" -> "All 4-bit b128", "uniform 8-bit" -> "All 8-bit".
 * The full label stays in tooltips and the plot's text alternative.
 */
export function shortBaselineLabel(label: string): string {
  return label.replace(/^uniform /, 'All ').replace(/ \(block (\d+)\)/, ' b$1');
}
