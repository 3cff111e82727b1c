import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import type { FieldErrors } from "../api/client";
import type { FieldValue, FormSchema, SchemaProperty } from "../api/types";
import { pick } from "../i18n/localized";

// A small renderer of our own for a ticket type's form rather than a generic JSON Schema form library:
// the server accepts a deliberately small subset (string, textarea, number/integer with bounds, enum,
// boolean, date; required; lengths), the server's per-field 422 must land on the same inputs, and a
// generic library would offer (and let users hit) keywords the server does not check.

/**
 * The form's fields in the order to show them. JSON objects carry no order a client may rely on (the
 * server's JSON may sort keys), so: the form's `x-order` when it has one, else the required fields in
 * the order `required` lists them, then the other short fields, then the long texts, each as received.
 */
export function orderedNames(schema: FormSchema): string[] {
  const names = Object.keys(schema.properties);
  const listed = schema["x-order"] ?? schema.required ?? [];
  const first = listed.filter((n, i) => names.includes(n) && listed.indexOf(n) === i);
  const rest = names.filter((n) => !first.includes(n));
  const long = (n: string) => schema.properties[n]["x-widget"] === "textarea";
  return [...first, ...rest.filter((n) => !long(n)), ...rest.filter(long)];
}

/** What the inputs hold while the user types: text for text-like fields, a flag for checkboxes. */
export type FormState = Record<string, string | boolean>;

export function initialState(schema: FormSchema, fields?: Record<string, FieldValue>): FormState {
  const state: FormState = {};
  for (const [name, prop] of Object.entries(schema.properties)) {
    const value = fields && name in fields ? fields[name] : fields ? undefined : prop.default;
    if (prop.type === "boolean") state[name] = value === true;
    else state[name] = value === undefined || value === null ? "" : String(value);
  }
  return state;
}

/**
 * The typed values to send: numbers as numbers, booleans as booleans, empty optional fields as null
 * (the server treats them as absent). Text that is not a number is sent as typed, so the server names
 * the field in its answer instead of the value silently disappearing.
 */
export function toFields(schema: FormSchema, state: FormState): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const [name, prop] of Object.entries(schema.properties)) {
    const raw = state[name];
    if (prop.type === "boolean") {
      out[name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : "";
    if (text === "") {
      out[name] = null;
    } else if (prop.type === "number" || prop.type === "integer") {
      const n = Number(text);
      out[name] = Number.isFinite(n) ? n : text;
    } else {
      out[name] = text;
    }
  }
  return out;
}

/** An enum value in words: the type file lists ids; `fieldValue.<field>.<id>` words the known ones. */
export function enumValueLabel(t: (k: string, o?: Record<string, unknown>) => string, name: string, value: string) {
  return t(`fieldValue.${name}.${value}`, { defaultValue: value });
}

export function fieldId(name: string) {
  return `field-${name}`;
}

function hint(t: (k: string, o?: Record<string, unknown>) => string, prop: SchemaProperty, lang: string): string | null {
  const parts: string[] = [];
  const description = pick(prop["x-description"], lang, prop.description ?? "");
  if (description) parts.push(description);
  if (prop.type === "number" || prop.type === "integer") {
    const min = prop.minimum ?? prop.exclusiveMinimum;
    const max = prop.maximum ?? prop.exclusiveMaximum;
    if (min !== undefined && max !== undefined) parts.push(t("form.range", { min, max }));
    else if (prop.exclusiveMinimum !== undefined) parts.push(t("form.above", { min: prop.exclusiveMinimum }));
    else if (min !== undefined) parts.push(t("form.atLeast", { min }));
    else if (max !== undefined) parts.push(t("form.atMost", { max }));
  }
  if (prop.maxLength !== undefined && prop["x-widget"] === "textarea") parts.push(t("form.maxLength", { max: prop.maxLength }));
  return parts.length ? parts.join(" ") : null;
}

interface Props {
  schema: FormSchema;
  state: FormState;
  errors: FieldErrors;
  onChange: (name: string, value: string | boolean) => void;
}

/** The ticket's own fields, generated from its type's form. */
export function SchemaFields({ schema, state, errors, onChange }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const required = new Set(schema.required ?? []);
  return (
    <>
      {orderedNames(schema).map((name) => {
        const prop = schema.properties[name];
        const id = fieldId(name);
        const title = pick(prop["x-title"], lang, prop.title ?? name);
        const isRequired = required.has(name);
        const error = errors[name];
        const help = hint(t, prop, lang);
        const describedBy = error ? `${id}-error` : help ? `${id}-hint` : undefined;
        const common = {
          id,
          name,
          "aria-invalid": error ? (true as const) : undefined,
          "aria-describedby": describedBy,
          "aria-required": isRequired || undefined,
        };
        let input: ReactNode;
        if (prop.type === "boolean") {
          input = (
            <label className="checkbox" htmlFor={id}>
              <input {...common} type="checkbox" checked={state[name] === true} onChange={(e) => onChange(name, e.target.checked)} />
              {title}
            </label>
          );
        } else if (prop.enum) {
          input = (
            <select {...common} value={String(state[name] ?? "")} onChange={(e) => onChange(name, e.target.value)}>
              {(!isRequired || prop.default === undefined) && <option value="">{t("form.choose")}</option>}
              {prop.enum.map((v) => (
                <option key={String(v)} value={String(v)}>
                  {enumValueLabel(t, name, String(v))}
                </option>
              ))}
            </select>
          );
        } else if (prop["x-widget"] === "textarea") {
          input = (
            <textarea
              {...common}
              rows={4}
              maxLength={prop.maxLength}
              value={String(state[name] ?? "")}
              onChange={(e) => onChange(name, e.target.value)}
            />
          );
        } else if (prop.type === "number" || prop.type === "integer") {
          input = (
            <input
              {...common}
              inputMode={prop.type === "integer" ? "numeric" : "decimal"}
              value={String(state[name] ?? "")}
              onChange={(e) => onChange(name, e.target.value)}
            />
          );
        } else {
          input = (
            <input
              {...common}
              type={prop.format === "date" ? "date" : "text"}
              maxLength={prop.maxLength}
              value={String(state[name] ?? "")}
              onChange={(e) => onChange(name, e.target.value)}
            />
          );
        }
        return (
          <div key={name} className={`field ${error ? "has-error" : ""}`} data-field={name}>
            {prop.type !== "boolean" && (
              <label htmlFor={id}>
                {title}
                {isRequired && (
                  <span className="required" aria-hidden="true">
                    {" "}
                    *
                  </span>
                )}
              </label>
            )}
            {input}
            {error ? (
              <p className="field-error" id={`${id}-error`} data-testid={`error-${name}`}>
                {error.join(" ")}
              </p>
            ) : help ? (
              <p className="hint" id={`${id}-hint`}>
                {help}
              </p>
            ) : null}
          </div>
        );
      })}
    </>
  );
}
