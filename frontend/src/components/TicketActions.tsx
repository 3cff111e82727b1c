import { useEffect, useId, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { useTicketAction, type TicketCommand } from "../api/hooks";
import { COMMENT_MAX } from "../api/limits";
import type { Ticket } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { useErrorMessage } from "./States";
import { useFocusOn } from "./focus";
import { fieldErrorTexts } from "../i18n/serverError";

/** The actions that ask for a confirmation (and, for some, a comment) before they run. */
type Mode = null | "withdraw" | "retry" | "delete";

const DONE_MESSAGE: Record<string, string> = {
  submit: "actions.done.submit",
  withdraw: "actions.done.withdraw",
  retry: "actions.done.retry",
  approve: "actions.done.approve",
  reject: "actions.done.reject",
};

/** What the caller may do with the ticket itself (the API's allowed_actions); steps have their own forms. */
export function TicketActions({ ticket }: { ticket: Ticket }) {
  const { t } = useTranslation();
  const { user } = useAuth();
  const navigate = useNavigate();
  const errorMessage = useErrorMessage();
  const action = useTicketAction(ticket.id);
  const [mode, setMode] = useState<Mode>(null);
  const [comment, setComment] = useState("");
  // What the action answered: the confirmation holds while the ticket stays in the status it produced.
  const [done, setDone] = useState<{ message: string; status: string; version: number } | null>(null);
  const doneRef = useFocusOn<HTMLDivElement>(done);
  const errorRef = useFocusOn<HTMLDivElement>(action.error);
  const commentId = useId();
  const allowed = ticket.allowed_actions;

  // The confirmation speaks about the status the action produced; once the ticket moves on (even back to the
  // status it had, e.g. a retried step that fails again), it is stale. A ticket older than the answer (the
  // screen not caught up yet) leaves it alone.
  useEffect(() => {
    if (done && ticket.version > done.version && ticket.status !== done.status) setDone(null);
  }, [done, ticket.status, ticket.version]);

  // Someone else may move the ticket on while a confirmation is open: close what no longer applies.
  useEffect(() => {
    if (mode && !allowed.includes(mode)) setMode(null);
  }, [mode, allowed]);

  const run = (input: TicketCommand) => {
    setDone(null);
    action.mutate(input, {
      onSuccess: (updated) => {
        setMode(null);
        setComment("");
        if (input.action === "delete") navigate("/tickets", { state: { flash: "deleted" } });
        else if (input.action === "resubmit" && updated)
          navigate(`/tickets/${updated.id}`, { state: { flash: "resubmitted" } });
        else if (updated)
          setDone({ message: t(DONE_MESSAGE[input.action] ?? "actions.done.generic"), status: updated.status, version: updated.version });
      },
    });
  };

  const open = (next: Mode) => {
    action.reset();
    setDone(null);
    setComment("");
    setMode(next);
  };

  const onConfirm = (e: FormEvent) => {
    e.preventDefault();
    if (mode === "withdraw") run({ action: "withdraw", comment: comment.trim() || undefined });
    else if (mode === "retry") run({ action: "retry", comment: comment.trim() || undefined });
    else if (mode === "delete") run({ action: "delete" });
  };

  const error = action.error;
  const commentError = fieldErrorTexts(t, error).comment?.join(" ");
  const own = ["submit", "edit", "delete", "withdraw", "retry", "resubmit"].filter((a) =>
    allowed.includes(a as Ticket["allowed_actions"][number]),
  );

  return (
    <div className="actions" data-testid="ticket-actions">
      {done && (
        <div className="alert alert-success" role="status" data-testid="action-done" tabIndex={-1} ref={doneRef}>
          {done.message}
        </div>
      )}
      {error && !commentError && (
        <div className="alert alert-error" role="alert" data-testid="action-error" tabIndex={-1} ref={errorRef}>
          {errorMessage(error)}
        </div>
      )}

      {own.length === 0 && (
        <p className="muted" data-testid="no-actions">
          {waitingHint(t, ticket, user?.username)}
        </p>
      )}

      {mode === null && own.length > 0 && (
        <div className="action-buttons">
          {allowed.includes("submit") && (
            <button type="button" className="btn btn-primary" disabled={action.isPending} onClick={() => run({ action: "submit" })} data-action="submit">
              {action.isPending ? t("actions.working") : t("actions.submit")}
            </button>
          )}
          {allowed.includes("edit") && (
            <Link to={`/tickets/${ticket.id}/edit`} className="btn btn-secondary" data-action="edit">
              {t("actions.edit")}
            </Link>
          )}
          {allowed.includes("resubmit") && (
            <button type="button" className="btn btn-primary" disabled={action.isPending} onClick={() => run({ action: "resubmit" })} data-action="resubmit">
              {t("actions.resubmit")}
            </button>
          )}
          {allowed.includes("retry") && (
            <button type="button" className="btn btn-warning" onClick={() => open("retry")} data-action="retry">
              {t("actions.retry")}
            </button>
          )}
          {allowed.includes("withdraw") && (
            <button type="button" className="btn btn-secondary" onClick={() => open("withdraw")} data-action="withdraw">
              {t("actions.withdraw")}
            </button>
          )}
          {allowed.includes("delete") && (
            <button type="button" className="btn btn-ghost btn-danger-text" onClick={() => open("delete")} data-action="delete">
              {t("actions.delete")}
            </button>
          )}
        </div>
      )}

      {mode !== null && (
        <form className="decision" onSubmit={onConfirm} noValidate aria-label={t(`actions.${mode}`)}>
          <p className="small">{t(`actions.confirmText.${mode}`)}</p>
          {mode !== "delete" && (
            <div className={`field ${commentError ? "has-error" : ""}`}>
              <label htmlFor={commentId}>{t("actions.commentLabel")}</label>
              <textarea
                id={commentId}
                rows={3}
                maxLength={COMMENT_MAX}
                autoFocus
                value={comment}
                aria-invalid={commentError ? true : undefined}
                aria-describedby={commentError ? `${commentId}-error` : undefined}
                placeholder={t("actions.commentPlaceholder")}
                onChange={(e) => setComment(e.target.value)}
              />
              {commentError && (
                <p className="field-error" id={`${commentId}-error`} data-testid="error-comment">
                  {commentError}
                </p>
              )}
            </div>
          )}
          <div className="form-actions">
            <button type="button" className="btn btn-ghost" onClick={() => open(null)}>
              {t("common.cancel")}
            </button>
            <button
              type="submit"
              className={`btn ${mode === "retry" ? "btn-warning" : "btn-danger"}`}
              disabled={action.isPending}
              autoFocus={mode === "delete"}
            >
              {action.isPending ? t("actions.working") : t(`actions.confirm.${mode}`)}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

function waitingHint(t: (k: string) => string, ticket: Ticket, username?: string) {
  switch (ticket.status) {
    case "in_progress":
      if (ticket.steps.some((s) => s.can_complete)) return t("actions.hint.yourStep");
      if (ticket.steps.length === 0) return t("actions.hint.automated");
      return ticket.requester === username ? t("actions.hint.waitingForOthers") : t("actions.hint.pendingOther");
    case "needs_attention":
      return t("actions.hint.attention");
    case "completed":
      return t("actions.hint.completed");
    case "rejected":
      return t("actions.hint.rejected");
    case "withdrawn":
      return t("actions.hint.withdrawn");
    default:
      return t("actions.hint.none");
  }
}
