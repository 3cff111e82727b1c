import { lazy, Suspense, useCallback, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import type { ProcessView } from "../api/types";
import { stepsOf, stepStates } from "./diagram";
import { Loading } from "./States";
import { NARROW_QUERY, useMediaQuery } from "./useMediaQuery";
import { hasRole, useAuth } from "../auth/AuthContext";
import { stepFailureText } from "../i18n/serverError";

// bpmn-js is large: it loads only when a ticket page shows its diagram.
const ProcessDiagram = lazy(() => import("./ProcessDiagram"));

/** The process section of a ticket page: current step in words, the diagram, and a legend. */
export function ProcessPanel({ view }: { view: ProcessView }) {
  const { t } = useTranslation();
  const { user } = useAuth();
  const admin = hasRole(user, "admin");
  const [unavailable, setUnavailable] = useState<string | null>(null);
  // On a phone the diagram is too small to read: its steps as a list, the diagram (pan and zoom) on request.
  const narrow = useMediaQuery(NARROW_QUERY);
  const [showDiagram, setShowDiagram] = useState(false);
  const onUnavailable = useCallback((why: string) => setUnavailable(why), []);
  const steps = useMemo(() => stepsOf(view.definition_xml), [view.definition_xml]);
  const states = stepStates(view);
  const stepName = (id: string) => t(`bpmn.${id}`, { defaultValue: "" }) || steps.find((s) => s.id === id)?.name || id;
  const current = view.active_activity_ids.map(stepName);

  return (
    <div className="process">
      <p className="process-state" data-testid="process-state" data-state={view.state ?? "none"}>
        {view.state === null
          ? t("process.notStarted")
          : current.length > 0
            ? t(view.state === "incident" ? "process.incidentAt" : "process.currentStep", { step: current.join(", ") })
            : t(`process.state.${view.state}`)}
      </p>
      {view.incidents.length > 0 && (
        <div className="alert alert-error small" role="status" data-testid="process-incidents">
          {admin
            ? `${t("process.incidents")}: ${view.incidents.join("; ")}`
            : [...new Set(view.incidents.map((error) => stepFailureText(t, { error }, false)))].join(" ")}
        </div>
      )}
      {!view.definition_xml || unavailable || (narrow && !showDiagram) ? (
        <div className="diagram-fallback" data-testid={unavailable || !view.definition_xml ? "diagram-fallback" : "diagram-steps"}>
          {(unavailable || !view.definition_xml) && <p className="muted">{t("process.diagramUnavailable")}</p>}
          <ol className="step-list" aria-label={t("process.stepList")}>
            {steps.map((s) => (
              <li key={s.id} className={`step step-${states.get(s.id) ?? "todo"}`}>
                {stepName(s.id)}
                <span className="visually-hidden"> — {t(`process.step.${states.get(s.id) ?? "todo"}`)}</span>
              </li>
            ))}
          </ol>
          {narrow && view.definition_xml && !unavailable && (
            <button type="button" className="btn btn-secondary btn-sm diagram-toggle" onClick={() => setShowDiagram(true)}>
              {t("process.showDiagram")}
            </button>
          )}
        </div>
      ) : (
        <>
          <Suspense fallback={<Loading label={t("process.loadingDiagram")} />}>
            <figure className="diagram" aria-label={t("process.diagramLabel")}>
              <ProcessDiagram view={view} onUnavailable={onUnavailable} />
            </figure>
          </Suspense>
          {narrow && (
            <button type="button" className="btn btn-secondary btn-sm diagram-toggle" onClick={() => setShowDiagram(false)}>
              {t("process.showSteps")}
            </button>
          )}
        </>
      )}
      <ul className="legend" aria-label={t("process.legend")}>
        <li>
          <span className="swatch swatch-done" aria-hidden="true" />
          {t("process.step.done")}
        </li>
        <li>
          <span className="swatch swatch-active" aria-hidden="true" />
          {t("process.step.active")}
        </li>
        <li>
          <span className="swatch swatch-incident" aria-hidden="true" />
          {t("process.step.incident")}
        </li>
      </ul>
    </div>
  );
}
