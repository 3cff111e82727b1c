import { useTranslation } from "react-i18next";

/** Dates and amounts in the current language's conventions. */
export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.language;
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const dateOnly = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" });
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  const amount = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return {
    locale,
    dateTime: (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : "—"),
    /** A calendar date (YYYY-MM-DD) as the reader writes it; anything else as it came. */
    date: (value: string) => {
      const d = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : null;
      return d && !Number.isNaN(d.getTime()) ? dateOnly.format(d) : value;
    },
    /** "5 minutes ago" / "5分钟前", to the nearest sensible unit. */
    ago: (iso: string, now: number = Date.now()) => {
      const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
      const abs = Math.abs(seconds);
      if (abs < 45) return relative.format(0, "second");
      if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), "minute");
      if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), "hour");
      return relative.format(Math.round(seconds / 86400), "day");
    },
    amount: (value: string | number | null | undefined) =>
      value == null || value === "" ? "—" : amount.format(Number(value)),
    /** A number with two decimals (amounts), or `digits` decimals. */
    number: (value: number, digits = 2) =>
      new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value),
  };
}
