import { useEffect, useId, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { ApiError } from "../api/client";
import { useTicketAction, type DecisionInput } from "../api/hooks";
import type { Ticket } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { useErrorMessage } from "./States";

type Mode = null | "approve" | "reject" | "retry_provisioning";

const DONE_MESSAGE: Record<DecisionInput["action"], string> = {
  submit: "actions.done.submit",
  approve: "actions.done.approve",
  reject: "actions.done.reject",
  retry_provisioning: "actions.done.retry_provisioning",
};

/** What the caller may do now (the API's allowed_actions), with the comment each decision takes. */
export function TicketActions({ ticket }: { ticket: Ticket }) {
  const { t } = useTranslation();
  const { user } = useAuth();
  const errorMessage = useErrorMessage();
  const action = useTicketAction(ticket.id);
  const [mode, setMode] = useState<Mode>(null);
  const [comment, setComment] = useState("");
  const [done, setDone] = useState<{ message: string; statuses: string[] } | null>(null);
  const commentId = useId();
  const allowed = ticket.allowed_actions;

  // The confirmation speaks about the status the action produced; once the ticket moves on, it is stale.
  useEffect(() => {
    if (done && !done.statuses.includes(ticket.status)) setDone(null);
  }, [done, ticket.status]);

  // Someone else may move the ticket on while a decision form is open: close forms that no longer apply.
  useEffect(() => {
    if (mode && !allowed.includes(mode)) setMode(null);
  }, [mode, allowed]);

  const run = (input: DecisionInput) => {
    setDone(null);
    action.mutate(input, {
      onSuccess: (updated) => {
        setDone({ message: t(DONE_MESSAGE[input.action]), statuses: [ticket.status, updated.status] });
        setMode(null);
        setComment("");
      },
    });
  };

  const open = (next: Mode) => {
    action.reset();
    setDone(null);
    setComment("");
    setMode(next);
  };

  const onDecide = (e: FormEvent) => {
    e.preventDefault();
    if (mode === "approve") run({ action: "approve", comment: comment.trim() || undefined });
    else if (mode === "reject") run({ action: "reject", comment: comment.trim() });
    else if (mode === "retry_provisioning") run({ action: "retry_provisioning", comment: comment.trim() || undefined });
  };

  const error = action.error;
  const commentError =
    error instanceof ApiError && error.status === 422 ? error.fieldErrors.comment?.join(" ") : undefined;

  return (
    <div className="actions" data-testid="ticket-actions">
      {done && (
        <div className="alert alert-success" role="status" data-testid="action-done">
          {done.message}
        </div>
      )}
      {error && !commentError && (
        <div className="alert alert-error" role="alert" data-testid="action-error">
          {errorMessage(error)}
        </div>
      )}

      {allowed.length === 0 && <p className="muted" data-testid="no-actions">{waitingHint(t, ticket, user?.username)}</p>}

      {mode === null && allowed.length > 0 && (
        <div className="action-buttons">
          {allowed.includes("approve") && (
            <button type="button" className="btn btn-success" onClick={() => open("approve")}>
              {t("actions.approve")}
            </button>
          )}
          {allowed.includes("reject") && (
            <button type="button" className="btn btn-danger" onClick={() => open("reject")}>
              {t("actions.reject")}
            </button>
          )}
          {allowed.includes("submit") && (
            <button
              type="button"
              className="btn btn-primary"
              disabled={action.isPending}
              onClick={() => run({ action: "submit" })}
            >
              {action.isPending ? t("actions.working") : t("actions.submit")}
            </button>
          )}
          {allowed.includes("edit") && (
            <Link to={`/tickets/${ticket.id}/edit`} className="btn btn-secondary">
              {t("actions.edit")}
            </Link>
          )}
          {allowed.includes("retry_provisioning") && (
            <button type="button" className="btn btn-warning" onClick={() => open("retry_provisioning")}>
              {t("actions.retry_provisioning")}
            </button>
          )}
        </div>
      )}

      {mode !== null && (
        <form className="decision" onSubmit={onDecide} noValidate aria-label={t(`actions.${mode}`)}>
          <div className={`field ${commentError ? "has-error" : ""}`}>
            <label htmlFor={commentId}>
              {mode === "reject" ? t("actions.reasonLabel") : t("actions.commentLabel")}
              {mode === "reject" && (
                <span className="required" aria-hidden="true">
                  {" "}
                  *
                </span>
              )}
            </label>
            <textarea
              id={commentId}
              rows={3}
              autoFocus
              value={comment}
              aria-required={mode === "reject"}
              aria-invalid={commentError ? true : undefined}
              aria-describedby={commentError ? `${commentId}-error` : undefined}
              placeholder={mode === "reject" ? t("actions.reasonPlaceholder") : t("actions.commentPlaceholder")}
              onChange={(e) => setComment(e.target.value)}
            />
            {commentError && (
              <p className="field-error" id={`${commentId}-error`} data-testid="error-comment">
                {commentError}
              </p>
            )}
          </div>
          <div className="form-actions">
            <button type="button" className="btn btn-ghost" onClick={() => open(null)}>
              {t("common.cancel")}
            </button>
            <button
              type="submit"
              className={`btn ${mode === "reject" ? "btn-danger" : mode === "approve" ? "btn-success" : "btn-warning"}`}
              disabled={action.isPending}
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
    case "pending_approval":
      return ticket.requester === username ? t("actions.hint.waitingForManager") : t("actions.hint.pendingOther");
    case "approved":
      return t("actions.hint.provisioning");
    case "completed":
      return t("actions.hint.completed");
    case "rejected":
      return t("actions.hint.rejected");
    case "provisioning_failed":
      return t("actions.hint.failed");
    default:
      return t("actions.hint.none");
  }
}
