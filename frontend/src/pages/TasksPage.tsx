import { useEffect, useId, useMemo, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { useBulkComplete, useTasks, useTicketTypes, type BulkOutcome } from "../api/hooks";
import type { Task, TaskSort } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { useFocusOn } from "../components/focus";
import { Pagination } from "../components/Pagination";
import { Empty, ErrorBox, Loading } from "../components/States";
import { StatusBadge } from "../components/StatusBadge";
import { decidableAsIs, decisionVariables, groupName, stepName } from "../components/StepCard";
import { useFormat } from "../i18n/format";
import { useLocalized } from "../i18n/localized";
import { useServerError } from "../i18n/serverError";
import { SearchBox } from "../components/SearchBox";
import { DueTime } from "../components/DueTime";

export const TASKS_PAGE_SIZE = 20;

/** The inbox's orders, as the API's `sort` takes them (TASK_SORTS). */
export const TASK_SORTS: readonly TaskSort[] = ["created", "-created", "due", "-due"];

/** Tasks decided together must be of one kind: the same step of the same process (ticket type). */
export const kindOf = (task: Task) => `${task.ticket.type}\u0000${task.step}`;

type BulkMode = null | "approve" | "reject";

/** The caller's inbox: every step they may complete now, of any process, oldest first. */
export function TasksPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const loc = useLocalized();
  const serverError = useServerError();
  const { user } = useAuth();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const type = params.get("type") ?? "";
  const group = params.get("group") ?? "";
  const stepFilter = params.get("step") ?? "";
  const q = params.get("q") ?? "";
  const overdue = params.get("overdue") === "true";
  const sortParam = params.get("sort") ?? "";
  const sort = TASK_SORTS.find((s) => s === sortParam) ?? "created";
  const [search, setSearch] = useState(q);
  const types = useTicketTypes();
  const query = useTasks({
    page,
    page_size: TASKS_PAGE_SIZE,
    sort,
    ...(type ? { type } : {}),
    ...(group ? { group } : {}),
    ...(stepFilter ? { step: stepFilter } : {}),
    ...(q ? { q } : {}),
    ...(overdue ? { overdue: true } : {}),
  });
  const filtered = Boolean(type || group || stepFilter || q || overdue);

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
  };

  // Search as you type, once typing pauses (the API's q: title, fields, step name, or #id prefix).
  useEffect(() => {
    if (search.trim() === q) return;
    const timer = setTimeout(() => update({ q: search.trim() || null }), 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);

  // The steps the inbox has shown, to filter by (the API has no list of steps; the chosen one always stays).
  const [knownSteps, setKnownSteps] = useState<Map<string, string>>(() => new Map());
  useEffect(() => {
    const items = query.data?.items ?? [];
    if (items.every((task) => knownSteps.has(task.step))) return;
    setKnownSteps((old) => {
      const next = new Map(old);
      for (const task of items) if (!next.has(task.step)) next.set(task.step, stepName(t, task));
      return next;
    });
  }, [query.data, knownSteps, t]);
  const stepOptions = useMemo(() => {
    const entries = [...knownSteps.entries()];
    if (stepFilter && !knownSteps.has(stepFilter)) entries.push([stepFilter, t(`bpmn.${stepFilter}`, { defaultValue: stepFilter })]);
    return entries.sort((a, b) => a[1].localeCompare(b[1]));
  }, [knownSteps, stepFilter, t]);

  // ---------- bulk decision ----------
  const [selected, setSelected] = useState<Map<string, Task>>(() => new Map());
  const [mode, setMode] = useState<BulkMode>(null);
  const [comment, setComment] = useState("");
  const [commentError, setCommentError] = useState<string | null>(null);
  const [progress, setProgress] = useState(0);
  const [results, setResults] = useState<{ outcomes: BulkOutcome[]; approve: boolean } | null>(null);
  const bulk = useBulkComplete();
  const resultsRef = useFocusOn<HTMLHeadingElement>(results);
  const uid = useId();
  const kind = selected.size ? kindOf([...selected.values()][0]) : null;
  const first = selected.size ? [...selected.values()][0] : null;
  const typeName = (task: Task) =>
    loc.typeName(types.data?.find((tp) => tp.key === task.ticket.type), task.ticket.type_name || task.ticket.type);

  // A new filter, order or page shows other tasks: what was selected is no longer on screen.
  const view = params.toString();
  useEffect(() => {
    setSelected(new Map());
    setMode(null);
  }, [view]);

  // A selected task that has gone from the inbox (decided elsewhere) is no longer selected.
  useEffect(() => {
    if (!query.data || selected.size === 0 || bulk.isPending) return;
    const present = new Set(query.data.items.map((task) => task.id));
    if ([...selected.keys()].some((id) => !present.has(id))) {
      setSelected((old) => new Map([...old].filter(([id]) => present.has(id))));
    }
  }, [query.data, selected, bulk.isPending]);

  useEffect(() => {
    if (selected.size === 0) setMode(null);
  }, [selected.size]);

  const toggle = (task: Task, on: boolean) => {
    setResults(null);
    setSelected((old) => {
      const next = new Map(old);
      if (on) next.set(task.id, task);
      else next.delete(task.id);
      return next;
    });
  };

  const whyNot = (task: Task): string | null => {
    if (!task.can_complete) return t(`step.refusal.${task.refusal ?? "not_a_candidate"}`);
    if (!decidableAsIs(task)) return t("tasks.bulk.needsForm");
    if (kind && kindOf(task) !== kind) return t("tasks.bulk.otherKind", { step: stepName(t, first!), type: typeName(first!) });
    return null;
  };

  const sameKindOnPage = (query.data?.items ?? []).filter((task) => decidableAsIs(task) && (!kind || kindOf(task) === kind));

  const openMode = (next: BulkMode) => {
    setComment("");
    setCommentError(null);
    setResults(null);
    setMode(next);
  };

  const onConfirm = (e: FormEvent) => {
    e.preventDefault();
    const approve = mode === "approve";
    const text = comment.trim();
    if (!approve && !text) {
      setCommentError(t("tasks.bulk.reasonRequired"));
      return;
    }
    const items = [...selected.values()].map((task) => ({
      task,
      input: { variables: decisionVariables(task, approve), comment: text || null },
    }));
    setProgress(0);
    bulk.mutate(
      { items, onProgress: setProgress },
      {
        onSuccess: (outcomes) => {
          setResults({ outcomes, approve });
          setMode(null);
          setComment("");
          setSelected(new Map());
        },
      },
    );
  };

  const refused = results?.outcomes.filter((o) => !o.ok).length ?? 0;
  const decided = (results?.outcomes.length ?? 0) - refused;

  return (
    <section>
      <div className="page-head">
        <div>
          <h1 tabIndex={-1}>{t("tasks.title")}</h1>
          <p className="muted">{t("tasks.subtitle")}</p>
        </div>
      </div>

      <div className="toolbar card" role="search">
        <SearchBox
          id="task-search"
          label={t("tasks.search")}
          placeholder={t("tasks.searchPlaceholder")}
          hint={t("tasks.searchHint")}
          value={search}
          onChange={setSearch}
        />
        <div className="field field-inline">
          <label htmlFor="task-type">{t("tasks.typeFilter")}</label>
          <select id="task-type" value={type} onChange={(e) => update({ type: e.target.value || null })}>
            <option value="">{t("tasks.allTypes")}</option>
            {(types.data ?? []).map((tp) => (
              <option key={tp.key} value={tp.key}>
                {loc.typeName(tp, tp.key)}
              </option>
            ))}
          </select>
        </div>
        {(user?.groups?.length ?? 0) > 0 && (
          <div className="field field-inline">
            <label htmlFor="task-group">{t("tasks.groupFilter")}</label>
            <select id="task-group" value={group} onChange={(e) => update({ group: e.target.value || null })}>
              <option value="">{t("tasks.allGroups")}</option>
              {user!.groups!.map((g) => (
                <option key={g} value={g}>
                  {groupName(t, g)}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field field-inline">
          <label htmlFor="task-step">{t("tasks.stepFilter")}</label>
          <select id="task-step" value={stepFilter} onChange={(e) => update({ step: e.target.value || null })}>
            <option value="">{t("tasks.allSteps")}</option>
            {stepOptions.map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={overdue}
            onChange={(e) => update({ overdue: e.target.checked ? "true" : null })}
          />
          {t("tasks.overdueOnly")}
        </label>
        <div className="field field-inline">
          <label htmlFor="task-sort">{t("tasks.sortLabel")}</label>
          <select id="task-sort" value={sort} onChange={(e) => update({ sort: e.target.value === "created" ? null : e.target.value })}>
            {TASK_SORTS.map((s) => (
              <option key={s} value={s}>
                {t(`tasks.sort.${s}`)}
              </option>
            ))}
          </select>
        </div>
      </div>

      {results && (
        <div
          className={`card bulk-results ${refused ? "bulk-results-mixed" : ""}`}
          role="status"
          data-testid="bulk-results"
        >
          <h2 className="card-title" tabIndex={-1} ref={resultsRef}>
            {t("tasks.bulk.resultsTitle")}: {t("tasks.bulk.summary", { decided, refused })}
          </h2>
          <ul className="bulk-result-list">
            {results.outcomes.map((o) => (
              <li key={o.task.id} className={`wrap-anywhere ${o.ok ? "bulk-ok" : "bulk-refused"}`} data-testid="bulk-result" data-task-id={o.task.id} data-ticket-id={o.task.ticket.id} data-ok={o.ok}>
                <Link to={`/tickets/${o.task.ticket.id}`}>{o.task.ticket.title}</Link>{" "}
                <span className="muted small mono">#{o.task.ticket.id.slice(0, 8)}</span>
                {" — "}
                {o.ok ? (
                  <span>{t(results.approve ? "tasks.bulk.approved" : "tasks.bulk.rejected")}</span>
                ) : (
                  <span className="bulk-reason">
                    {t("tasks.bulk.refused")}: {serverError.message(o.error)}
                  </span>
                )}
              </li>
            ))}
          </ul>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setResults(null)}>
            {t("tasks.bulk.dismiss")}
          </button>
        </div>
      )}

      {selected.size > 0 && first && (
        <div className="card bulk-bar" data-testid="bulk-bar" role="region" aria-label={t("tasks.bulk.label")}>
          <p className="bulk-selection wrap-anywhere" aria-live="polite">
            {t("tasks.bulk.selected", { count: selected.size, step: stepName(t, first), type: typeName(first) })}
          </p>
          <p className="muted small">{t("tasks.bulk.oneKind")}</p>
          {mode === null ? (
            <div className="action-buttons">
              <button type="button" className="btn btn-success" onClick={() => openMode("approve")}>
                {t("tasks.bulk.approve")}
              </button>
              <button type="button" className="btn btn-danger" onClick={() => openMode("reject")}>
                {t("tasks.bulk.reject")}
              </button>
              {sameKindOnPage.length > selected.size && (
                <button
                  type="button"
                  className="btn btn-secondary"
                  onClick={() => setSelected(new Map(sameKindOnPage.map((task) => [task.id, task])))}
                >
                  {t("tasks.bulk.selectAllKind", { count: sameKindOnPage.length })}
                </button>
              )}
              <button type="button" className="btn btn-ghost" onClick={() => setSelected(new Map())}>
                {t("tasks.bulk.clear")}
              </button>
            </div>
          ) : (
            <form
              className="decision"
              onSubmit={onConfirm}
              noValidate
              aria-label={t(mode === "approve" ? "tasks.bulk.approve" : "tasks.bulk.reject")}
            >
              <div className={`field ${commentError ? "has-error" : ""}`}>
                <label htmlFor={`${uid}-comment`}>
                  {mode === "reject" ? t("tasks.bulk.reasonLabel") : t("actions.commentLabel")}
                  {mode === "reject" && (
                    <span className="required" aria-hidden="true">
                      {" "}
                      *
                    </span>
                  )}
                </label>
                <textarea
                  id={`${uid}-comment`}
                  rows={3}
                  autoFocus
                  value={comment}
                  aria-required={mode === "reject"}
                  aria-invalid={commentError ? true : undefined}
                  aria-describedby={commentError ? `${uid}-comment-error` : undefined}
                  placeholder={mode === "reject" ? t("actions.reasonPlaceholder") : t("actions.commentPlaceholder")}
                  onChange={(e) => {
                    setComment(e.target.value);
                    setCommentError(null);
                  }}
                />
                {commentError && (
                  <p className="field-error" id={`${uid}-comment-error`} data-testid="bulk-comment-error">
                    {commentError}
                  </p>
                )}
              </div>
              <div className="form-actions">
                <button type="button" className="btn btn-ghost" disabled={bulk.isPending} onClick={() => openMode(null)}>
                  {t("common.cancel")}
                </button>
                <button type="submit" className={`btn ${mode === "reject" ? "btn-danger" : "btn-success"}`} disabled={bulk.isPending}>
                  {bulk.isPending
                    ? t("tasks.bulk.progress", { done: progress, count: selected.size })
                    : t(mode === "approve" ? "tasks.bulk.confirmApprove" : "tasks.bulk.confirmReject", { count: selected.size })}
                </button>
              </div>
            </form>
          )}
        </div>
      )}

      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data && query.data.items.length === 0 ? (
        <Empty title={filtered ? t("tasks.noMatch") : t("tasks.empty")}>
          <p className="muted small">{t("tasks.emptyHint")}</p>
        </Empty>
      ) : query.data ? (
        <>
          {query.isError && <ErrorBox error={query.error} onRetry={() => void query.refetch()} />}
          <div className="card table-card">
            <table className="table table-cards">
              <caption className="visually-hidden">{t("tasks.title")}</caption>
              <thead>
                <tr>
                  <th scope="col" className="cell-select">
                    <span className="visually-hidden">{t("tasks.bulk.selectColumn")}</span>
                  </th>
                  <th scope="col">{t("ticket.title")}</th>
                  <th scope="col">{t("ticket.type")}</th>
                  <th scope="col">{t("tasks.step")}</th>
                  <th scope="col">{t("ticket.status")}</th>
                  <th scope="col">{t("ticket.requester")}</th>
                  <th scope="col">{t("tasks.waiting")}</th>
                </tr>
              </thead>
              <tbody>
                {query.data.items.map((task) => {
                  const why = whyNot(task);
                  const checked = selected.has(task.id);
                  const hintId = `${uid}-why-${task.id}`;
                  return (
                    <tr
                      key={task.id}
                      data-testid="task-row"
                      data-task-id={task.id}
                      data-ticket-id={task.ticket.id}
                      data-step={task.step}
                      className={checked ? "row-selected" : undefined}
                    >
                      <td className="cell-select">
                        <input
                          type="checkbox"
                          checked={checked}
                          disabled={(!!why && !checked) || bulk.isPending}
                          aria-label={t("tasks.bulk.select", { title: task.ticket.title })}
                          aria-describedby={why && !checked ? hintId : undefined}
                          title={why && !checked ? why : undefined}
                          onChange={(e) => toggle(task, e.target.checked)}
                        />
                        {why && !checked && (
                          <span id={hintId} className="visually-hidden">
                            {why}
                          </span>
                        )}
                      </td>
                      <td className="cell-title wrap-anywhere" data-label={t("ticket.title")}>
                        <Link to={`/tickets/${task.ticket.id}`} className="row-link">
                          {task.ticket.title}
                        </Link>
                        <div className="muted small mono">#{task.ticket.id.slice(0, 8)}</div>
                      </td>
                      <td data-label={t("ticket.type")}>{typeName(task)}</td>
                      <td data-label={t("tasks.step")}>
                        {stepName(t, task)}
                        {task.on_behalf_of && (
                          <div className="muted small" data-testid="task-on-behalf">
                            {t("tasks.onBehalfOf", { user: task.on_behalf_of })}
                          </div>
                        )}
                        {task.assignee && !task.on_behalf_of && (
                          <div className="muted small">{t("step.assignee", { user: task.assignee })}</div>
                        )}
                      </td>
                      <td data-label={t("ticket.status")}>
                        <StatusBadge status={task.ticket.status} />
                      </td>
                      <td data-label={t("ticket.requester")}>{task.ticket.requester}</td>
                      <td data-label={t("tasks.waiting")} title={fmt.dateTime(task.created_at ?? task.ticket.created_at)}>
                        {fmt.ago(task.created_at ?? task.ticket.created_at)}
                        {task.due && (
                          <div>
                            <DueTime due={task.due} overdue={task.overdue} />
                          </div>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {kind && query.data.items.some((task) => whyNot(task) && !selected.has(task.id) && decidableAsIs(task)) && (
            <p className="muted small" data-testid="bulk-kind-note">
              {t("tasks.bulk.otherKind", { step: stepName(t, first!), type: typeName(first!) })}
            </p>
          )}
          <Pagination
            page={query.data.page}
            pageSize={query.data.page_size}
            total={query.data.total}
            onChange={(p) => update({ page: String(p) })}
          />
        </>
      ) : null}
    </section>
  );
}
