import { lazy, Suspense, useId, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { AGE_BUCKETS, DEFAULT_WEEKS, isForbidden, maySeeDashboard, useStats, type Stats } from "../api/admin";
import { useTicketTypes } from "../api/hooks";
import { useAuth } from "../auth/AuthContext";
import type { CategoryRow, Series } from "../components/DashboardCharts";
import { NotAllowed } from "../components/NotAllowed";
import { ErrorBox, Loading } from "../components/States";
import { groupName, stepName } from "../components/StepCard";
import { formatDuration } from "../i18n/duration";
import { useFormat } from "../i18n/format";
import { useLocalized } from "../i18n/localized";

// recharts is big: it is fetched when a chart is first drawn, never for the ticket pages.
const charts = () => import("../components/DashboardCharts");
const HBarChart = lazy(() => charts().then((m) => ({ default: m.HBarChart })));
const TimeLineChart = lazy(() => charts().then((m) => ({ default: m.TimeLineChart })));

export const WEEK_CHOICES = [4, DEFAULT_WEEKS, 26, 52];

const AGE_COLORS: Record<string, string> = { lt_1d: "#93c5fd", d1_3: "#3b82f6", d3_7: "#f59e0b", gt_7d: "#c62828" };
const MEDIAN = "#2563eb";
const P90 = "#f59e0b";

/** A chart with its heading, what it counts, and its figures as a table (what a screen reader reads). */
function ChartSection({
  id,
  title,
  hint,
  empty,
  summary,
  chart,
  table,
}: {
  id: string;
  title: string;
  hint: string;
  /** the empty state's words, when there is nothing to draw */
  empty: string | null;
  summary?: ReactNode;
  chart: ReactNode;
  table: ReactNode;
}) {
  const { t } = useTranslation();
  const headingId = useId();
  return (
    <section className="card dash-card" aria-labelledby={headingId} data-testid={`dash-${id}`}>
      <h2 id={headingId} className="card-title">
        {title}
      </h2>
      <p className="muted small">{hint}</p>
      {summary}
      {empty ? (
        <p className="dash-empty" data-testid="dash-empty">
          {empty}
        </p>
      ) : (
        <>
          <div className="chart" role="img" aria-label={t("dashboard.chartAlt", { title })}>
            <Suspense fallback={<div className="chart-loading" />}>{chart}</Suspense>
          </div>
          <details className="figures">
            <summary>{t("dashboard.showTable")}</summary>
            {/* focusable: on a phone the wider tables scroll sideways, by keyboard too */}
            <div className="figures-scroll" tabIndex={0} role="group" aria-label={title}>
              {table}
            </div>
          </details>
        </>
      )}
    </section>
  );
}

/** Rows of figures: the first column names the row, the next `textColumns - 1` are words, the rest numbers. */
function FigureTable({
  caption,
  head,
  rows,
  textColumns = 1,
}: {
  caption: string;
  head: string[];
  rows: (string | number)[][];
  textColumns?: number;
}) {
  return (
    <table className="table figures-table">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {head.map((h, i) => (
            <th key={h} scope="col" className={i >= textColumns ? "num" : undefined}>
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, r) => (
          <tr key={r}>
            {row.map((cell, i) =>
              i === 0 ? (
                <th key={i} scope="row">
                  {cell}
                </th>
              ) : (
                <td key={i} className={i >= textColumns ? "num" : undefined}>
                  {cell}
                </td>
              ),
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** How the processes do: open steps per group, cycle times, weekly throughput and the rejection rate. */
export function DashboardPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  const allowed = maySeeDashboard(user);
  const [params, setParams] = useSearchParams();
  const asked = Number(params.get("weeks"));
  const weeks = WEEK_CHOICES.includes(asked) ? asked : DEFAULT_WEEKS;
  const stats = useStats(weeks, allowed);
  const fmt = useFormat();

  if (!allowed || isForbidden(stats.error)) return <NotAllowed section="dashboard" />;

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{t("dashboard.title")}</h1>
          <p className="muted">{t("dashboard.subtitle")}</p>
        </div>
        <div className="field field-inline">
          <label htmlFor="dash-weeks">{t("dashboard.period")}</label>
          <select
            id="dash-weeks"
            value={weeks}
            onChange={(e) => {
              const next = new URLSearchParams(params);
              if (Number(e.target.value) === DEFAULT_WEEKS) next.delete("weeks");
              else next.set("weeks", e.target.value);
              setParams(next, { replace: true });
            }}
          >
            {WEEK_CHOICES.map((w) => (
              <option key={w} value={w}>
                {t("dashboard.weeks", { count: w })}
              </option>
            ))}
          </select>
        </div>
      </div>
      {stats.isPending ? (
        <Loading />
      ) : stats.isError && !stats.data ? (
        <ErrorBox error={stats.error} onRetry={() => void stats.refetch()} />
      ) : (
        <>
          <p className="muted small dash-generated">
            {t("dashboard.generatedAt", { time: fmt.dateTime(stats.data.generated_at) })}
          </p>
          <Figures stats={stats.data} />
        </>
      )}
    </section>
  );
}

function Figures({ stats }: { stats: Stats }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const loc = useLocalized();
  const types = useTicketTypes();
  const locale = fmt.locale;
  const int = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const percent = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 });
  const count = (n: number) => int.format(n);
  const rate = (r: number | null) => (r == null ? t("dashboard.noValue") : percent.format(r));
  const duration = (s: number) => formatDuration(s, locale, t("dashboard.lessThanMinute"));
  // an axis starts at a plain 0, and ticks under a minute read in seconds (not all "under a minute")
  const seconds = new Intl.NumberFormat(locale, { style: "unit", unit: "second", unitDisplay: "short", maximumFractionDigits: 1 });
  const durationShort = (s: number) =>
    s === 0 ? int.format(0) : s < 60 ? seconds.format(s) : formatDuration(s, locale, t("dashboard.lessThanMinute"), "short");
  const typeName = (key: string) =>
    loc.typeName(
      types.data?.find((tp) => tp.key === key),
      key,
    );
  const weekOf = (day: string) => fmt.date(day);
  const weekShort = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", timeZone: "UTC" });

  // Open tasks by group, stacked by how long they have waited.
  const ages: Series[] = AGE_BUCKETS.map((b) => ({ key: b, label: t(`dashboard.age.${b}`), color: AGE_COLORS[b] }));
  const ageOf = (g: Stats["open_tasks"][number], b: string) => g.by_age.find((a) => a.bucket === b)?.count ?? 0;
  const openRows: CategoryRow[] = stats.open_tasks.map((g) => ({
    name: groupName(t, g.group),
    ...Object.fromEntries(AGE_BUCKETS.map((b) => [b, ageOf(g, b)])),
  }));
  const openEmpty = stats.open_tasks.every((g) => g.total === 0);

  // Cycle times: median and 90th percentile.
  const cycleSeries: Series[] = [
    { key: "median_s", label: t("dashboard.cycle.median"), color: MEDIAN },
    { key: "p90_s", label: t("dashboard.cycle.p90"), color: P90 },
  ];
  const byType = stats.cycle_time.by_type;
  const byStep = stats.cycle_time.by_step;
  const stepLabel = (s: (typeof byStep)[number]) => stepName(t, { step: s.step_id, name: s.step });
  const showTypeOfStep = new Set(byStep.map((s) => s.type)).size > 1;
  const stepRowName = (s: (typeof byStep)[number]) =>
    showTypeOfStep ? `${stepLabel(s)} (${typeName(s.type)})` : stepLabel(s);

  // Throughput per week.
  const weekSeries: Series[] = [
    { key: "created", label: t("dashboard.throughput.created"), color: "#2563eb" },
    { key: "completed", label: t("dashboard.throughput.completed"), color: "#15803d" },
    { key: "rejected", label: t("dashboard.throughput.rejected"), color: "#c62828" },
  ];
  const throughputEmpty = stats.throughput.every((w) => !w.created && !w.completed && !w.rejected);

  const rejection = stats.rejection_rate;
  const ratedTypes = rejection.by_type.filter((r) => r.rate != null);
  const sla = stats.sla;
  const slaTypes = sla.by_type.filter((r) => r.share != null);

  return (
    <div className="dash-grid">
      <ChartSection
        id="open-tasks"
        title={t("dashboard.openTasks.title")}
        hint={t("dashboard.openTasks.hint")}
        empty={openEmpty ? t("dashboard.openTasks.empty") : null}
        chart={<HBarChart rows={openRows} series={ages} stacked format={count} />}
        table={
          <FigureTable
            caption={t("dashboard.openTasks.title")}
            head={[t("dashboard.openTasks.group"), ...ages.map((a) => a.label), t("dashboard.openTasks.total")]}
            rows={stats.open_tasks.map((g) => [
              groupName(t, g.group),
              ...AGE_BUCKETS.map((b) => count(ageOf(g, b))),
              count(g.total),
            ])}
          />
        }
      />

      <ChartSection
        id="cycle-type"
        title={t("dashboard.cycleType.title")}
        hint={t("dashboard.cycleType.hint")}
        empty={byType.length ? null : t("dashboard.cycleType.empty")}
        chart={
          <HBarChart
            rows={byType.map((r) => ({ name: typeName(r.type), median_s: r.median_s, p90_s: r.p90_s }))}
            series={cycleSeries}
            format={durationShort}
          />
        }
        table={
          <FigureTable
            caption={t("dashboard.cycleType.title")}
            head={[t("dashboard.cycle.type"), t("dashboard.cycle.count"), t("dashboard.cycle.median"), t("dashboard.cycle.p90")]}
            rows={byType.map((r) => [typeName(r.type), count(r.count), duration(r.median_s), duration(r.p90_s)])}
          />
        }
      />

      <ChartSection
        id="cycle-step"
        title={t("dashboard.cycleStep.title")}
        hint={t("dashboard.cycleStep.hint")}
        empty={byStep.length ? null : t("dashboard.cycleStep.empty")}
        chart={
          <HBarChart
            rows={byStep.map((r) => ({ name: stepRowName(r), median_s: r.median_s, p90_s: r.p90_s }))}
            series={cycleSeries}
            format={durationShort}
          />
        }
        table={
          <FigureTable
            caption={t("dashboard.cycleStep.title")}
            textColumns={2}
            head={[
              t("dashboard.cycle.step"),
              t("dashboard.cycle.type"),
              t("dashboard.cycle.count"),
              t("dashboard.cycle.median"),
              t("dashboard.cycle.p90"),
            ]}
            rows={byStep.map((r) => [stepLabel(r), typeName(r.type), count(r.count), duration(r.median_s), duration(r.p90_s)])}
          />
        }
      />

      <ChartSection
        id="throughput"
        title={t("dashboard.throughput.title")}
        hint={t("dashboard.throughput.hint")}
        empty={throughputEmpty ? t("dashboard.throughput.empty") : null}
        chart={
          <TimeLineChart
            rows={stats.throughput.map((w) => ({
              name: weekShort.format(new Date(`${w.week_start}T00:00:00Z`)),
              created: w.created,
              completed: w.completed,
              rejected: w.rejected,
            }))}
            series={weekSeries}
            format={count}
          />
        }
        table={
          <FigureTable
            caption={t("dashboard.throughput.title")}
            head={[t("dashboard.throughput.week"), ...weekSeries.map((s) => s.label)]}
            rows={stats.throughput.map((w) => [weekOf(w.week_start), count(w.created), count(w.completed), count(w.rejected)])}
          />
        }
      />

      <ChartSection
        id="rejection"
        title={t("dashboard.rejection.title")}
        hint={t("dashboard.rejection.hint")}
        empty={rejection.decided ? null : t("dashboard.rejection.empty")}
        summary={
          rejection.decided ? (
            <p className="dash-figure" data-testid="rejection-overall">
              {t("dashboard.rejection.overallText", {
                rate: rate(rejection.rate),
                rejected: count(rejection.rejected),
                decided: count(rejection.decided),
              })}
            </p>
          ) : null
        }
        chart={
          <HBarChart
            rows={ratedTypes.map((r) => ({ name: typeName(r.type), rate: r.rate }))}
            series={[{ key: "rate", label: t("dashboard.rejection.rate"), color: "#c62828" }]}
            format={(v) => percent.format(v)}
            domain={[0, 1]}
            decimals
          />
        }
        table={
          <FigureTable
            caption={t("dashboard.rejection.title")}
            head={[t("dashboard.rejection.type"), t("dashboard.rejection.decided"), t("dashboard.rejection.rejected"), t("dashboard.rejection.rate")]}
            rows={[
              ...rejection.by_type.map((r) => [typeName(r.type), count(r.decided), count(r.rejected), rate(r.rate)]),
              [t("dashboard.rejection.overall"), count(rejection.decided), count(rejection.rejected), rate(rejection.rate)],
            ]}
          />
        }
      />

      <ChartSection
        id="sla"
        title={t("dashboard.sla.title")}
        hint={t("dashboard.sla.hint")}
        empty={sla.with_due || sla.open_overdue ? null : t("dashboard.sla.empty")}
        summary={
          sla.with_due || sla.open_overdue ? (
            <p className="dash-figure" data-testid="sla-overall">
              {t("dashboard.sla.overallText", {
                share: rate(sla.share),
                onTime: count(sla.on_time),
                withDue: count(sla.with_due),
                overdue: count(sla.open_overdue),
              })}
            </p>
          ) : null
        }
        chart={
          <HBarChart
            rows={slaTypes.map((r) => ({ name: typeName(r.type), share: r.share }))}
            series={[{ key: "share", label: t("dashboard.sla.share"), color: "#15803d" }]}
            format={(v) => percent.format(v)}
            domain={[0, 1]}
            decimals
          />
        }
        table={
          <FigureTable
            caption={t("dashboard.sla.title")}
            head={[t("dashboard.sla.type"), t("dashboard.sla.withDue"), t("dashboard.sla.onTime"), t("dashboard.sla.share"), t("dashboard.sla.openOverdue")]}
            rows={[
              ...sla.by_type.map((r) => [typeName(r.type), count(r.with_due), count(r.on_time), rate(r.share), count(r.open_overdue)]),
              [t("dashboard.sla.overall"), count(sla.with_due), count(sla.on_time), rate(sla.share), count(sla.open_overdue)],
            ]}
          />
        }
      />
    </div>
  );
}
