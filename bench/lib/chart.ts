/** Moved to bin/report/ so the product's `measure` command can use it; benches import it from here. */
export * from '../../bin/report/chart.js';
