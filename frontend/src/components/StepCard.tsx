import { useEffect, useId, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import type { TFunction } from "i18next";
import { ApiError, type FieldErrors } from "../api/client";
import { useCompleteTask, useTaskHolder } from "../api/hooks";
import { hasRole, useAuth } from "../auth/AuthContext";
import { COMMENT_MAX } from "../api/limits";
import type { FieldValue, FormField, Step, Ticket } from "../api/types";
import { useFormat } from "../i18n/format";
import { useErrorMessage } from "./States";
import { fieldErrorTexts } from "../i18n/serverError";
import { useFocusOn } from "./focus";
import { DueTime } from "./DueTime";

/** A step's name in the reader's language: `bpmn.<task id>` when the UI has one, else the BPMN's name. */
export function stepName(t: TFunction, step: { step?: string; name: string }) {
  return (step.step && t(`bpmn.${step.step}`, { defaultValue: "" })) || step.name;
}

/** The names of a ticket's current steps in the reader's language (open user tasks are known by id). */
export function currentStepNames(t: TFunction, ticket: Pick<Ticket, "current_steps" | "steps">): string[] {
  return (ticket.current_steps ?? []).map((name) => stepName(t, ticket.steps?.find((s) => s.name === name) ?? { name }));
}

export function groupName(t: TFunction, group: string) {
  return t(`group.${group}`, { defaultValue: group });
}

/** Who may act on a step, in words: the assignee decides alone; else candidate users and groups. */
export function whoCanAct(t: TFunction, step: Step, locale: string): string {
  const list = (items: string[]) => new Intl.ListFormat(locale, { type: "disjunction" }).format(items);
  if (step.assignee) return t("step.assignee", { user: step.assignee });
  const parts = [...step.candidate_users, ...step.candidate_groups.map((g) => t("step.group", { group: groupName(t, g) }))];
  return parts.length ? list(parts) : t("step.anyone");
}

type Choice = null | "approve" | "reject" | "complete";

function decisionValue(field: FormField, approve: boolean): FieldValue {
  return field.type === "boolean" ? approve : approve ? "approve" : "reject";
}

/** The typed values of the step's other fields, as the engine expects them (empty = absent). */
function typed(field: FormField, raw: string | boolean): FieldValue | undefined {
  if (field.type === "boolean") return raw === true;
  const text = typeof raw === "string" ? raw.trim() : "";
  if (text === "") return undefined;
  if (field.type === "long") {
    const n = Number(text);
    return Number.isInteger(n) ? n : text; // not a whole number: the server names the field
  }
  return text;
}

function initialValues(fields: FormField[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const f of fields) {
    if (f.type === "boolean") out[f.id] = f.default === true;
    else out[f.id] = f.default === undefined || f.default === null ? "" : String(f.default);
  }
  return out;
}

/**
 * Whether a step can be decided without its form: it has a decision field, and every other required field has
 * a default. Such steps can be approved or rejected several at once from the inbox.
 */
export function decidableAsIs(step: Pick<Step, "form" | "can_complete">): boolean {
  if (!step.can_complete) return false;
  const decision = step.form.find((f) => f.decision);
  if (!decision) return false;
  const values = initialValues(step.form.filter((f) => f !== decision));
  return step.form.every((f) => f === decision || !f.required || typed(f, values[f.id]) !== undefined);
}

/** The variables a decision sends, as the step's own form would with its fields left at their defaults. */
export function decisionVariables(step: Pick<Step, "form">, approve: boolean): Record<string, FieldValue> {
  const decision = step.form.find((f) => f.decision);
  const others = step.form.filter((f) => f !== decision);
  const values = initialValues(others);
  const variables: Record<string, FieldValue> = {};
  for (const f of others) {
    const v = typed(f, values[f.id]);
    if (v !== undefined) variables[f.id] = v;
  }
  if (decision) variables[decision.id] = decisionValue(decision, approve);
  return variables;
}

/** One open step of the ticket's process: who may act, and for the caller when allowed, its form. */
export function StepCard({
  ticket,
  step,
  onCompleted,
}: {
  ticket: Ticket;
  step: Step;
  /** the step is done (its card goes with it): the page says so and takes the focus */
  onCompleted?: (updated: Ticket, choice: "approve" | "reject" | "complete") => void;
}) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const errorMessage = useErrorMessage();
  const complete = useCompleteTask(ticket.id);
  const decision = step.form.find((f) => f.decision) ?? null;
  const others = step.form.filter((f) => f !== decision);
  const [choice, setChoice] = useState<Choice>(null);
  const [values, setValues] = useState(() => initialValues(others));
  const [comment, setComment] = useState("");
  const uid = useId();
  const name = stepName(t, step);
  const { user } = useAuth();
  const admin = hasRole(user, "admin");

  // The step may be completed by someone else while its form is open: the card goes when the step does,
  // and a refusal that arrives later closes the form.
  useEffect(() => {
    if (!step.can_complete) setChoice(null);
  }, [step.can_complete]);

  const error = complete.error;
  const errorRef = useFocusOn<HTMLDivElement>(error);
  const fieldErrors: FieldErrors = fieldErrorTexts(t, error);
  const placed = new Set(["comment", ...others.map((f) => f.id), ...(decision ? [decision.id] : [])]);
  const unplaced = Object.keys(fieldErrors).filter((f) => !placed.has(f));
  const showAlert = error && (!(error instanceof ApiError) || error.status !== 422 || unplaced.length > 0 || Object.keys(fieldErrors).length === 0);

  const pick = (next: Choice) => {
    complete.reset();
    setComment("");
    setChoice(next);
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const variables: Record<string, FieldValue> = {};
    for (const f of others) {
      const v = typed(f, values[f.id]);
      if (v !== undefined) variables[f.id] = v;
    }
    if (decision && (choice === "approve" || choice === "reject")) variables[decision.id] = decisionValue(decision, choice === "approve");
    const done = choice === "approve" || choice === "reject" ? choice : "complete";
    complete.mutate(
      { taskId: step.id, input: { variables, comment: comment.trim() || null } },
      { onSuccess: (updated) => onCompleted?.(updated, done) },
    );
  };

  const rejecting = choice === "reject";
  const commentError = fieldErrors.comment?.join(" ");
  const commentId = `${uid}-comment`;

  return (
    <li className="step-card" data-testid="step" data-step={step.step} data-task-id={step.id}>
      <div className="step-head">
        <h3 className="step-name">{name}</h3>
        {step.created_at && (
          <span className="muted small" title={fmt.dateTime(step.created_at)}>
            {t("step.waitingSince", { ago: fmt.ago(step.created_at) })}
          </span>
        )}
      </div>
      <p className="small" data-testid="step-who">
        {t("step.whoCanAct")}: {whoCanAct(t, step, fmt.locale)}
      </p>
      {step.due && (
        <p className="small">
          <DueTime due={step.due} overdue={step.overdue} />
        </p>
      )}
      {step.on_behalf_of && (
        <p className="small" data-testid="step-on-behalf">
          {t("step.onBehalfOf", { user: step.on_behalf_of })}
        </p>
      )}
      <StepHolder ticketId={ticket.id} step={step} admin={admin} />

      {!step.can_complete ? (
        <p className="muted small" data-testid="step-refusal">
          {t(`step.refusal.${step.refusal ?? "not_a_candidate"}`)}
        </p>
      ) : choice === null ? (
        <div className="action-buttons">
          {decision ? (
            <>
              <button type="button" className="btn btn-success" onClick={() => pick("approve")}>
                {t("actions.approve")}
              </button>
              <button type="button" className="btn btn-danger" onClick={() => pick("reject")}>
                {t("actions.reject")}
              </button>
            </>
          ) : (
            <button type="button" className="btn btn-primary" onClick={() => pick("complete")}>
              {t("step.complete")}
            </button>
          )}
        </div>
      ) : (
        <form
          className="decision"
          onSubmit={onSubmit}
          noValidate
          aria-label={t(choice === "complete" ? "step.complete" : `actions.${choice}`) + ` — ${name}`}
        >
          {showAlert && (
            <div className="alert alert-error" role="alert" data-testid="action-error" tabIndex={-1} ref={errorRef}>
              <div>
                <p className="alert-message">{errorMessage(error)}</p>
                {unplaced.map((f) => (
                  <p key={f} className="small">
                    {f}: {fieldErrors[f].join(" ")}
                  </p>
                ))}
              </div>
            </div>
          )}
          {others.map((f) => (
            <StepField
              key={f.id}
              field={f}
              id={`${uid}-${f.id}`}
              value={values[f.id]}
              error={fieldErrors[f.id]}
              onChange={(v) => setValues((old) => ({ ...old, [f.id]: v }))}
            />
          ))}
          <div className={`field ${commentError ? "has-error" : ""}`}>
            <label htmlFor={commentId}>
              {rejecting ? t("actions.reasonLabel") : t("actions.commentLabel")}
              {rejecting && (
                <span className="required" aria-hidden="true">
                  {" "}
                  *
                </span>
              )}
            </label>
            <textarea
              id={commentId}
              rows={3}
              maxLength={COMMENT_MAX}
              autoFocus
              value={comment}
              aria-required={rejecting}
              aria-invalid={commentError ? true : undefined}
              aria-describedby={commentError ? `${commentId}-error` : undefined}
              placeholder={rejecting ? t("actions.reasonPlaceholder") : t("actions.commentPlaceholder")}
              onChange={(e) => setComment(e.target.value)}
            />
            {commentError && (
              <p className="field-error" id={`${commentId}-error`} data-testid="error-comment">
                {commentError}
              </p>
            )}
          </div>
          <div className="form-actions">
            <button type="button" className="btn btn-ghost" onClick={() => pick(null)}>
              {t("common.cancel")}
            </button>
            <button
              type="submit"
              className={`btn ${rejecting ? "btn-danger" : choice === "approve" ? "btn-success" : "btn-primary"}`}
              disabled={complete.isPending}
            >
              {complete.isPending ? t("actions.working") : t(`actions.confirm.${choice}`)}
            </button>
          </div>
        </form>
      )}
    </li>
  );
}

/** Claim the step, give it back, and for admins give it to someone else. */
function StepHolder({ ticketId, step, admin }: { ticketId: string; step: Step; admin: boolean }) {
  const { t } = useTranslation();
  const errorMessage = useErrorMessage();
  const holder = useTaskHolder(ticketId);
  const [assignee, setAssignee] = useState("");
  const uid = useId();
  const fieldErrors: FieldErrors = fieldErrorTexts(t, holder.error);
  if (!step.can_claim && !step.can_unclaim && !admin) return null;
  const reassign = (e: FormEvent) => {
    e.preventDefault();
    holder.mutate({ taskId: step.id, action: "reassign", assignee: assignee.trim() || null }, { onSuccess: () => setAssignee("") });
  };
  const assigneeError = fieldErrors.assignee?.join(" ");
  return (
    <div className="step-holder" data-testid="step-holder">
      {holder.error && !assigneeError && (
        <p className="field-error" role="alert" data-testid="holder-error">
          {errorMessage(holder.error)}
        </p>
      )}
      <div className="action-buttons">
        {step.can_claim && (
          <button type="button" className="btn btn-sm" disabled={holder.isPending} onClick={() => holder.mutate({ taskId: step.id, action: "claim" })}>
            {t("step.claim")}
          </button>
        )}
        {step.can_unclaim && (
          <button type="button" className="btn btn-sm btn-ghost" disabled={holder.isPending} onClick={() => holder.mutate({ taskId: step.id, action: "unclaim" })}>
            {t("step.unclaim")}
          </button>
        )}
      </div>
      {admin && (
        <form className="reassign" onSubmit={reassign} noValidate aria-label={t("step.reassignLabel", { step: stepName(t, step) })}>
          <div className={`field ${assigneeError ? "has-error" : ""}`}>
            <label htmlFor={`${uid}-assignee`}>{t("step.reassignTo")}</label>
            <input
              id={`${uid}-assignee`}
              name="assignee"
              value={assignee}
              placeholder={t("step.reassignPlaceholder")}
              aria-invalid={assigneeError ? true : undefined}
              aria-describedby={assigneeError ? `${uid}-assignee-error` : undefined}
              onChange={(e) => setAssignee(e.target.value)}
            />
            {assigneeError && (
              <p className="field-error" id={`${uid}-assignee-error`} data-testid="error-assignee">
                {assigneeError}
              </p>
            )}
          </div>
          <button type="submit" className="btn btn-sm" disabled={holder.isPending}>
            {assignee.trim() ? t("step.reassign") : t("step.reassignToCandidates")}
          </button>
        </form>
      )}
    </div>
  );
}

function StepField({
  field,
  id,
  value,
  error,
  onChange,
}: {
  field: FormField;
  id: string;
  value: string | boolean;
  error?: string[];
  onChange: (v: string | boolean) => void;
}) {
  const { t } = useTranslation();
  const common = {
    id,
    name: field.id,
    "aria-invalid": error ? (true as const) : undefined,
    "aria-describedby": error ? `${id}-error` : undefined,
    "aria-required": field.required || undefined,
  };
  return (
    <div className={`field ${error ? "has-error" : ""}`} data-field={field.id}>
      {field.type === "boolean" ? (
        <label className="checkbox" htmlFor={id}>
          <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
          {field.label}
        </label>
      ) : (
        <label htmlFor={id}>
          {field.label}
          {field.required && (
            <span className="required" aria-hidden="true">
              {" "}
              *
            </span>
          )}
        </label>
      )}
      {field.type === "enum" ? (
        <select {...common} value={String(value)} onChange={(e) => onChange(e.target.value)}>
          <option value="">{t("form.choose")}</option>
          {field.values.map((v) => (
            <option key={v.id} value={v.id}>
              {v.name}
            </option>
          ))}
        </select>
      ) : field.type === "boolean" ? null : (
        <input
          {...common}
          type={field.type === "date" ? "date" : "text"}
          inputMode={field.type === "long" ? "numeric" : undefined}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      {error && (
        <p className="field-error" id={`${id}-error`} data-testid={`error-${field.id}`}>
          {error.join(" ")}
        </p>
      )}
    </div>
  );
}
