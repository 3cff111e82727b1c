import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { serverErrorText } from "../i18n/serverError";

export function Loading({ label }: { label?: string }) {
  const { t } = useTranslation();
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label ?? t("common.loading")}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <svg viewBox="0 0 24 24" width="32" height="32" aria-hidden="true">
        <path d="M4 13h4l2 3h4l2-3h4M4 13l3-8h10l3 8v6H4z" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
      </svg>
      <p className="state-title">{title}</p>
      {children}
    </div>
  );
}

/** The message to show for a failed call: the server's reason in the reader's language (see serverError.ts). */
export function useErrorMessage() {
  const { t } = useTranslation();
  return (error: unknown): string => serverErrorText(t, error);
}

export function ErrorBox({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  const { t } = useTranslation();
  const message = useErrorMessage()(error);
  return (
    <div className="alert alert-error" role="alert">
      <div>
        <strong>{title ?? t("errors.title")}</strong>
        <p className="alert-message">{message}</p>
      </div>
      {onRetry && (
        <button type="button" className="btn btn-secondary btn-sm" onClick={onRetry}>
          {t("common.retry")}
        </button>
      )}
    </div>
  );
}
