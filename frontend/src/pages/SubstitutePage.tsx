import { useId, useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import type { FieldErrors } from "../api/client";
import { useMySubstitute, useRemoveSubstitute, useSetSubstitute } from "../api/hooks";
import type { Substitution } from "../api/types";
import { useFormat } from "../i18n/format";
import { fieldErrorTexts } from "../i18n/serverError";
import { ErrorBox, Loading, useErrorMessage } from "../components/States";

/** A `datetime-local` value (the reader's own time) as ISO 8601 with its offset, as the API wants it. */
function asInstant(local: string): string | null {
  if (!local) return null;
  const when = new Date(local);
  return Number.isNaN(when.getTime()) ? local : when.toISOString();
}

function Period({ s }: { s: Substitution }) {
  const fmt = useFormat();
  const { t } = useTranslation();
  return <>{t("substitute.period", { starts: fmt.dateTime(s.starts), ends: fmt.dateTime(s.ends) })}</>;
}

/** "Substitute while away": name who decides your steps for a period, and see whom you stand in for. */
export function SubstitutePage() {
  const { t } = useTranslation();
  const errorMessage = useErrorMessage();
  const state = useMySubstitute();
  const save = useSetSubstitute();
  const remove = useRemoveSubstitute();
  const [substitute, setSubstitute] = useState("");
  const [starts, setStarts] = useState("");
  const [ends, setEnds] = useState("");
  const uid = useId();
  const errors: FieldErrors = fieldErrorTexts(t, save.error);
  const placed = new Set(["substitute", "starts", "ends"]);
  const unplaced = Object.keys(errors).filter((f) => !placed.has(f));

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    remove.reset();
    save.mutate(
      { substitute: substitute.trim(), starts: asInstant(starts), ends: asInstant(ends) ?? "" },
      { onSuccess: () => { setSubstitute(""); setStarts(""); setEnds(""); } },
    );
  };

  const field = (name: "substitute" | "starts" | "ends", label: string, input: ReactNode) => (
    <div className={`field ${errors[name] ? "has-error" : ""}`} data-field={name}>
      <label htmlFor={`${uid}-${name}`}>{label}</label>
      {input}
      {errors[name] && (
        <p className="field-error" id={`${uid}-${name}-error`} data-testid={`error-${name}`}>
          {errors[name].join(" ")}
        </p>
      )}
    </div>
  );
  const described = (name: string) => (errors[name] ? { "aria-invalid": true as const, "aria-describedby": `${uid}-${name}-error` } : {});

  return (
    <section className="narrow">
      <div className="page-head">
        <div>
          <h1>{t("substitute.title")}</h1>
          <p className="muted">{t("substitute.subtitle")}</p>
        </div>
      </div>
      {state.isPending ? (
        <Loading />
      ) : state.isError && !state.data ? (
        <ErrorBox error={state.error} onRetry={() => void state.refetch()} />
      ) : (
        <>
          <div className="card" data-testid="substitute-current">
            {state.data?.substitute ? (
              <>
                <p>
                  {t(state.data.substitute.active ? "substitute.current" : "substitute.planned", { user: state.data.substitute.substitute })}{" "}
                  <span className="muted small">
                    <Period s={state.data.substitute} />
                  </span>
                </p>
                <button type="button" className="btn btn-secondary btn-sm" disabled={remove.isPending} onClick={() => remove.mutate()}>
                  {t("substitute.remove")}
                </button>
              </>
            ) : (
              <p className="muted">{t("substitute.none")}</p>
            )}
            {remove.error && <p className="field-error" role="alert">{errorMessage(remove.error)}</p>}
          </div>
          {(state.data?.standing_in_for.length ?? 0) > 0 && (
            <div className="card" data-testid="standing-in-for">
              <h2 className="h3">{t("substitute.standingInFor")}</h2>
              <ul>
                {state.data!.standing_in_for.map((s) => (
                  <li key={s.user}>
                    {s.user} <span className="muted small"><Period s={s} /></span>
                  </li>
                ))}
              </ul>
            </div>
          )}
          <form className="card form" onSubmit={onSubmit} noValidate aria-label={t("substitute.formLabel")}>
            {save.error && (unplaced.length > 0 || Object.keys(errors).length === 0) && (
              <div className="alert alert-error" role="alert" data-testid="action-error">
                <p className="alert-message">{errorMessage(save.error)}</p>
              </div>
            )}
            {field("substitute", t("substitute.who"),
              <input id={`${uid}-substitute`} name="substitute" value={substitute} required autoComplete="off"
                {...described("substitute")} onChange={(e) => setSubstitute(e.target.value)} />)}
            {field("starts", t("substitute.starts"),
              <input id={`${uid}-starts`} name="starts" type="datetime-local" value={starts}
                {...described("starts")} onChange={(e) => setStarts(e.target.value)} />)}
            {field("ends", t("substitute.ends"),
              <input id={`${uid}-ends`} name="ends" type="datetime-local" value={ends} required
                {...described("ends")} onChange={(e) => setEnds(e.target.value)} />)}
            <p className="muted small">{t("substitute.rules")}</p>
            <div className="form-actions">
              <button type="submit" className="btn btn-primary" disabled={save.isPending}>
                {save.isPending ? t("actions.working") : t("substitute.save")}
              </button>
            </div>
          </form>
        </>
      )}
    </section>
  );
}
