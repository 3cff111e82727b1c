import { useTranslation } from "react-i18next";

/** Dates and amounts in the current language's conventions. */
export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.language;
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  const number = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return {
    locale,
    dateTime: (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : "—"),
    /** "5 minutes ago" / "5分钟前", to the nearest sensible unit. */
    ago: (iso: string, now: number = Date.now()) => {
      const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
      const abs = Math.abs(seconds);
      if (abs < 45) return relative.format(0, "second");
      if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), "minute");
      if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), "hour");
      return relative.format(Math.round(seconds / 86400), "day");
    },
    amount: (value: string | null | undefined) => (value == null || value === "" ? "—" : number.format(Number(value))),
  };
}
