/**
 * A duration as people say it, in the reader's language: minutes under an hour, hours under two days, days
 * beyond ("1.5 hours", "3 天"). One decimal below ten units, none above. Under a minute is worded by the caller.
 */
export function formatDuration(
  seconds: number,
  locale: string,
  lessThanMinute: string,
  unitDisplay: "long" | "short" = "long",
): string {
  if (!Number.isFinite(seconds) || seconds < 60) return lessThanMinute;
  const unit = (value: number, name: "minute" | "hour" | "day") =>
    new Intl.NumberFormat(locale, {
      style: "unit",
      unit: name,
      unitDisplay,
      maximumFractionDigits: value < 10 ? 1 : 0,
    }).format(value);
  if (seconds < 3600) return unit(Math.round(seconds / 60), "minute");
  if (seconds < 48 * 3600) return unit(seconds / 3600, "hour");
  return unit(seconds / 86400, "day");
}
