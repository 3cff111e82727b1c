import { useTranslation } from "react-i18next";
import type { FieldValue, SchemaProperty, TicketType } from "../api/types";
import { useFormat } from "../i18n/format";
import { useLocalized } from "../i18n/localized";
import { enumValueLabel, orderedNames } from "./SchemaForm";

/** A field's value in words: numbers and dates in the reader's conventions, enum ids and yes/no worded. */
export function useFieldValue() {
  const { t } = useTranslation();
  const fmt = useFormat();
  return (name: string, prop: SchemaProperty | undefined, value: FieldValue | undefined): string => {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
    if (typeof value === "number") return prop?.type === "integer" ? fmt.number(value, 0) : fmt.number(value);
    if (prop?.enum) return enumValueLabel(t, name, value);
    if (prop?.format === "date") return fmt.date(value);
    if (prop?.type === "number" && value.trim() !== "" && Number.isFinite(Number(value))) return fmt.number(Number(value));
    return value;
  };
}

/** The ticket's own fields, labelled from its type's form (fields the form no longer has keep their name). */
export function TicketFields({ type, fields }: { type: TicketType | undefined; fields: Record<string, FieldValue> }) {
  const loc = useLocalized();
  const show = useFieldValue();
  const props = type?.form.properties ?? {};
  const names = [...(type ? orderedNames(type.form) : []), ...Object.keys(fields).filter((k) => !(k in props))];
  const isLong = (n: string) => props[n]?.["x-widget"] === "textarea";
  // An empty long text says nothing worth its space; empty short fields keep their dash in the grid.
  const long = names.filter((n) => isLong(n) && fields[n] !== undefined && fields[n] !== null && fields[n] !== "");
  const short = names.filter((n) => !isLong(n));
  return (
    <div className="ticket-fields" data-testid="ticket-fields">
      {long.map((name) => (
        <div key={name} className="long-field" data-field={name}>
          <h3 className="field-heading">{loc.fieldTitle(type, name)}</h3>
          <p className="description wrap-anywhere">{show(name, props[name], fields[name])}</p>
        </div>
      ))}
      {short.length > 0 && (
        <dl className="facts">
          {short.map((name) => (
          <div key={name} data-field={name}>
            <dt>{loc.fieldTitle(type, name)}</dt>
            <dd className="wrap-anywhere">{show(name, props[name], fields[name])}</dd>
          </div>
          ))}
        </dl>
      )}
    </div>
  );
}
