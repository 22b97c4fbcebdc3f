/** Time-series charts with uPlot: one per panel, made once, fed new data on each render. */
import uPlot from "uplot";

const COLOURS = ["#4f9cf9", "#3ecf8e", "#f5a524", "#f31260", "#9353d3", "#06b7db", "#ff7eb6", "#a3a3a3"];

export interface Series {
  label: string;
  /** Right-hand axis (a second unit, e.g. utilization beside a size). */
  right?: boolean;
  unit?: string;
}

export class LineChart {
  private plot: uPlot | undefined;
  private readonly labels: string;

  constructor(
    readonly el: HTMLElement,
    private readonly series: Series[],
    private readonly height = 180,
  ) {
    this.labels = series.map((s) => s.label).join("\0");
  }

  /** Whether this chart was made for the same series (else the caller makes a new one). */
  fits(series: Series[]): boolean {
    return series.map((s) => s.label).join("\0") === this.labels;
  }

  update(t: number[], ys: (number | null)[][]): void {
    const data = [t, ...ys] as uPlot.AlignedData;
    const width = Math.max(200, this.el.clientWidth || 400);
    if (this.plot === undefined) {
      const right = this.series.some((s) => s.right === true);
      this.plot = new uPlot(
        {
          width,
          height: this.height,
          legend: { show: true, live: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true, range: (_u, min, max) => (max - min < 10 ? [max - 60, max + 1] : [min, max]) }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, r: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
          axes: [
            { stroke: "#9aa4b2", grid: { stroke: "#2a3140" } },
            { stroke: "#9aa4b2", grid: { stroke: "#2a3140" }, size: 60 },
            ...(right ? [{ scale: "r", side: 1, stroke: "#9aa4b2", grid: { show: false } } as uPlot.Axis] : []),
          ],
          series: [
            {},
            ...this.series.map((s, i) => ({
              label: s.label,
              scale: s.right === true ? "r" : "y",
              stroke: COLOURS[i % COLOURS.length],
              width: 2,
              spanGaps: false,
              points: { show: false },
              value: (_u: uPlot, v: number | null) => (v === null ? "–" : `${v.toFixed(v < 10 ? 2 : 0)}${s.unit ?? ""}`),
            })),
          ],
        },
        data,
        this.el,
      );
    } else {
      if (Math.abs(this.plot.width - width) > 8) this.plot.setSize({ width, height: this.height });
      this.plot.setData(data);
    }
  }
}
