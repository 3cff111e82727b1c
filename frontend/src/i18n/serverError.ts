import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { ApiError, fieldName, type FieldErrors } from "../api/client";

/**
 * The server's texts in the reader's language. An error may carry a dotted `key` and its `params`; it is worded
 * as `serverError.<key>` with the params (a `status` param worded with the status labels), and the server's
 * English `message` is the fallback when the UI has no text for the key. Every place that shows an API error
 * goes through here: sign-in, refusals, conflicts, step errors, and the field errors of generated forms.
 */

/** The params of a key as the text shows them: a ticket status in words. */
export function wordParams(t: TFunction, params: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params };
  if (typeof params.status === "string") out.status = t(`status.${params.status}`, { defaultValue: params.status });
  return out;
}

/** `serverError.<key>` worded with its params, or `fallback` when the UI has no text for the key. */
export function wordKey(t: TFunction, key: string | undefined, params: Record<string, unknown> | undefined, fallback: string): string {
  if (!key) return fallback;
  return t(`serverError.${key}`, { ...wordParams(t, params), defaultValue: fallback });
}

/** The message to show for a failed call: the server's worded reason, or what to do when it could not be reached. */
export function serverErrorText(t: TFunction, error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return t("errors.network");
    const dependency = error.details?.dependency;
    const fallback =
      error.status === 503 && typeof dependency === "string" && !error.message.includes(dependency)
        ? `${error.message} (${dependency})`
        : error.message || t("errors.unknown");
    return wordKey(t, error.key, { ...(typeof dependency === "string" ? { dependency } : {}), ...error.params }, fallback);
  }
  return error instanceof Error && error.message ? error.message : t("errors.unknown");
}

/**
 * The per-field messages of a 422, by form field name: from `error.fields` (worded by key) when the server sent
 * them, else from `details` (the server's English). A field only `details` names keeps its English message.
 */
export function fieldErrorTexts(t: TFunction, error: unknown): FieldErrors {
  if (!(error instanceof ApiError) || error.status !== 422) return {};
  const english = error.fieldErrors;
  if (!error.fields) return english;
  const out: FieldErrors = { ...english };
  for (const [path, reasons] of Object.entries(error.fields)) {
    const name = fieldName(path);
    out[name] = reasons.map((r, i) => wordKey(t, r.key, r.params, english[name]?.[i] ?? english[name]?.[0] ?? r.key));
  }
  return out;
}

/** The two helpers bound to the reader's language. */
export function useServerError() {
  const { t } = useTranslation();
  return {
    message: (error: unknown) => serverErrorText(t, error),
    fields: (error: unknown) => fieldErrorTexts(t, error),
  };
}

const KEY_LIKE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;

/** A failed automated step as the server reports it: the error text (for admins), and a key when the server words it. */
export interface StepFailure {
  error?: string | null;
  key?: string | null;
  params?: Record<string, unknown> | null;
}

/**
 * A failed automated step in words. The key's wording when the server sent one (an error that is itself a
 * dotted key counts as one); the raw error text only for admins, who fix it; everyone else reads that a step
 * failed and an administrator can retry it, never an exception's text.
 */
export function stepFailureText(t: TFunction, failure: StepFailure, admin: boolean): string {
  const raw = failure.error?.trim() || "";
  const key = failure.key || (KEY_LIKE.test(raw) ? raw : "");
  const generic = t("attention.failed");
  if (key) {
    const worded = wordKey(t, key, failure.params ?? {}, "");
    // admins, who fix it, also read what the step reported
    if (worded) return admin && raw && raw !== key ? `${worded} — ${raw}` : worded;
  }
  if (admin && raw && raw !== key) return t("attention.error", { error: raw });
  return generic;
}
