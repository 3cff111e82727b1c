// The dashboard's charts (recharts). Loaded on the dashboard only: the page imports this module lazily.
// Every chart is drawn for the eye; its figures are also in a table next to it, which is what a screen reader reads.
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";

export interface Series {
  key: string;
  label: string;
  color: string;
}

export interface CategoryRow {
  /** the category's label (a group, a type, a step, a week) */
  name: string;
  [series: string]: string | number | null;
}

const AXIS = { fontSize: 12, fill: "#5f6b7a" };
const LABEL_MAX = 16;

function short(label: string) {
  return label.length > LABEL_MAX ? `${label.slice(0, LABEL_MAX - 1)}…` : label;
}

/** Horizontal bars, one row per category: long names (groups, steps) stay readable on a phone. */
export function HBarChart({
  rows,
  series,
  stacked = false,
  format,
  domain,
  decimals = false,
}: {
  rows: CategoryRow[];
  series: Series[];
  stacked?: boolean;
  format: (value: number) => string;
  domain?: [number, number];
  /** ticks between whole numbers (shares) */
  decimals?: boolean;
}) {
  const perRow = stacked ? 34 : 18 * series.length + 16;
  const height = Math.max(160, 70 + rows.length * perRow);
  return (
    <ResponsiveContainer width="100%" height={height}>
      <BarChart data={rows} layout="vertical" margin={{ top: 4, right: 16, bottom: 4, left: 4 }} accessibilityLayer={false}>
        <CartesianGrid strokeDasharray="3 3" horizontal={false} />
        <XAxis type="number" tick={AXIS} tickFormatter={format} domain={domain} allowDecimals={decimals} />
        <YAxis type="category" dataKey="name" tick={AXIS} width={120} tickFormatter={short} interval={0} />
        <Tooltip formatter={(value) => format(Number(value))} />
        <Legend wrapperStyle={{ fontSize: 12 }} itemSorter={null} />
        {series.map((s) => (
          <Bar
            key={s.key}
            dataKey={s.key}
            name={s.label}
            fill={s.color}
            stackId={stacked ? "stack" : undefined}
            isAnimationActive={false}
            maxBarSize={26}
          />
        ))}
      </BarChart>
    </ResponsiveContainer>
  );
}

/** Lines over time (one point per week). */
export function TimeLineChart({
  rows,
  series,
  format,
}: {
  rows: CategoryRow[];
  series: Series[];
  format: (value: number) => string;
}) {
  return (
    <ResponsiveContainer width="100%" height={260}>
      <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }} accessibilityLayer={false}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="name" tick={AXIS} minTickGap={12} />
        <YAxis tick={AXIS} tickFormatter={format} allowDecimals={false} width={40} />
        <Tooltip formatter={(value) => format(Number(value))} />
        <Legend wrapperStyle={{ fontSize: 12 }} itemSorter={null} />
        {series.map((s) => (
          <Line
            key={s.key}
            type="monotone"
            dataKey={s.key}
            name={s.label}
            stroke={s.color}
            strokeWidth={2}
            dot={{ r: 3 }}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </ResponsiveContainer>
  );
}
