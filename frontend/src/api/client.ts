import type {
  CompleteTaskInput,
  NotificationListParams,
  HistoryEntry,
  AuthProviders,
  LoginResult,
  Me,
  NotificationPage,
  Page,
  ProcessView,
  SubstituteInput,
  SubstituteState,
  Task,
  TaskListParams,
  Ticket,
  TicketInput,
  TicketUpdate,
  TicketListParams,
  TicketType,
  User,
} from "./types";

/** Field name -> messages, as the API's 422 `details` carries them. */
export type FieldErrors = Record<string, string[]>;

/** A worded reason the server gives for one field of a 422 (`error.fields`): a key and what it is made from. */
export interface FieldReason {
  key: string;
  params: Record<string, unknown>;
}

/** What the server may add to an error so a client can word it in the reader's language. */
export interface ApiErrorExtras {
  /** dotted, e.g. "ticket.not_editable": worded under `serverError.<key>` */
  key?: string;
  params?: Record<string, unknown>;
  /** 422: dotted field path -> reasons, next to `details` */
  fields?: Record<string, FieldReason[]>;
}

/**
 * An error the API answered with (`{"error": {code, message, details, key?, params?, fields?}}`), or a network
 * failure (status 0). `message` is the server's English fallback; `key`/`params` word it in the reader's language
 * (see `src/i18n/serverError.ts`).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly key: string | undefined;
  readonly params: Record<string, unknown>;
  readonly fields: Record<string, FieldReason[]> | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    extras: ApiErrorExtras = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.key = typeof extras.key === "string" && extras.key ? extras.key : undefined;
    this.params = extras.params && typeof extras.params === "object" ? extras.params : {};
    this.fields = normaliseFields(extras.fields);
  }

  /** Per-field messages of a 422, normalised to lists of strings. */
  get fieldErrors(): FieldErrors {
    if (this.status !== 422) return {};
    const out: FieldErrors = {};
    for (const [field, value] of Object.entries(this.details)) {
      // A server may nest the ticket's own fields under `fields`; they are placed by name all the same.
      if (field === "fields" && value && typeof value === "object" && !Array.isArray(value)) {
        Object.assign(out, new ApiError(422, this.code, "", value as Record<string, unknown>).fieldErrors);
      } else if (Array.isArray(value)) out[field] = value.map(String);
      else if (typeof value === "string") out[field] = [value];
      else if (value && typeof value === "object") out[field] = Object.values(value).flat().map(String);
    }
    return out;
  }
}

/** The form field a dotted path of `error.fields` names: a ticket's `fields.<name>` and a step's
 * `variables.<name>` are placed by their name, as `details` places them. */
export function fieldName(path: string): string {
  for (const prefix of ["fields.", "variables."]) if (path.startsWith(prefix)) return path.slice(prefix.length);
  return path;
}

function normaliseFields(raw: unknown): Record<string, FieldReason[]> | undefined {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const out: Record<string, FieldReason[]> = {};
  for (const [path, reasons] of Object.entries(raw as Record<string, unknown>)) {
    const list = (Array.isArray(reasons) ? reasons : [reasons])
      .filter((r): r is { key: string; params?: Record<string, unknown> } => !!r && typeof (r as { key?: unknown }).key === "string")
      .map((r) => ({ key: r.key, params: r.params && typeof r.params === "object" ? r.params : {} }));
    if (list.length) out[path] = list;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The session lives in the httpOnly `pflow_session` cookie, which no script can read; the browser sends it. A
 * request that changes something also sends `X-CSRF-Token` with the value of the readable `pflow_csrf` cookie
 * the server sets next to it (another site can neither read it nor make it). That cookie's presence is also how
 * the UI knows a session may be there (after a single sign-on, for instance).
 */
const CSRF_COOKIE = "pflow_csrf";

export const session = {
  csrfToken(): string | null {
    for (const part of document.cookie.split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("=")) || null;
    }
    return null;
  },
  present(): boolean {
    return session.csrfToken() !== null;
  },
  /** Forget the readable half here too (the server clears both on logout; this holds when it cannot). */
  forget() {
    document.cookie = `${CSRF_COOKIE}=; Max-Age=0; path=/; SameSite=Strict`;
  },
};

type UnauthorizedListener = (error: ApiError) => void;
let onUnauthorized: UnauthorizedListener | null = null;

/** The auth provider registers here: any 401 on an authenticated call logs the user out. */
export function setUnauthorizedListener(listener: UnauthorizedListener | null) {
  onUnauthorized = listener;
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  auth?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = "GET", body, query, auth = true, signal } = options;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const url = `/api${path}${params.size ? `?${params}` : ""}`;
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const csrf = session.csrfToken();
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (err) {
    if ((err as Error)?.name === "AbortError") throw err;
    throw new ApiError(0, "network_error", "");
  }

  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const e = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } & ApiErrorExtras } | null)
      ?.error;
    const error = new ApiError(
      response.status,
      e?.code ?? `http_${response.status}`,
      e?.message ?? `${response.status} ${response.statusText}`.trim(),
      e?.details ?? {},
      { key: e?.key, params: e?.params, fields: e?.fields },
    );
    if (response.status === 401 && auth) onUnauthorized?.(error);
    throw error;
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  login: (username: string, password: string) =>
    request<LoginResult>("/auth/login", { method: "POST", body: { username, password }, auth: false }),
  demoUsers: () => request<User[]>("/auth/demo-users", { auth: false }),
  providers: () => request<AuthProviders>("/auth/providers", { auth: false }),
  logout: () => request<null>("/auth/logout", { method: "POST" }),
  me: () => request<Me>("/me"),

  ticketTypes: () => request<TicketType[]>("/ticket-types"),

  listTickets: (params: TicketListParams) =>
    request<Page<Ticket>>("/tickets", { query: { ...params } }),
  getTicket: (id: string) => request<Ticket>(`/tickets/${enc(id)}`),
  createTicket: (input: TicketInput) => request<Ticket>("/tickets", { method: "POST", body: input }),
  updateTicket: (id: string, input: TicketUpdate) =>
    request<Ticket>(`/tickets/${enc(id)}`, { method: "PATCH", body: input }),
  deleteTicket: (id: string) => request<null>(`/tickets/${enc(id)}`, { method: "DELETE" }),
  submit: (id: string) => request<Ticket>(`/tickets/${enc(id)}/submit`, { method: "POST" }),
  approve: (id: string, comment?: string) =>
    request<Ticket>(`/tickets/${enc(id)}/approve`, { method: "POST", body: { comment: comment || null } }),
  reject: (id: string, comment: string) =>
    request<Ticket>(`/tickets/${enc(id)}/reject`, { method: "POST", body: { comment } }),
  withdraw: (id: string, comment?: string) =>
    request<Ticket>(`/tickets/${enc(id)}/withdraw`, { method: "POST", body: { comment: comment || null } }),
  resubmit: (id: string) => request<Ticket>(`/tickets/${enc(id)}/resubmit`, { method: "POST" }),
  retry: (id: string, comment?: string) =>
    request<Ticket>(`/tickets/${enc(id)}/retry`, { method: "POST", body: { comment: comment || null } }),
  history: (id: string) => request<HistoryEntry[]>(`/tickets/${enc(id)}/history`),
  process: (id: string) => request<ProcessView>(`/tickets/${enc(id)}/process`),

  tasks: (params: TaskListParams) => request<Page<Task>>("/tasks", { query: { ...params } }),
  task: (id: string) => request<Task>(`/tasks/${enc(id)}`),
  completeTask: (id: string, input: CompleteTaskInput) =>
    request<Ticket>(`/tasks/${enc(id)}/complete`, { method: "POST", body: input }),
  claimTask: (id: string) => request<Ticket>(`/tasks/${enc(id)}/claim`, { method: "POST" }),
  unclaimTask: (id: string) => request<Ticket>(`/tasks/${enc(id)}/unclaim`, { method: "POST" }),
  reassignTask: (id: string, assignee: string | null) =>
    request<Ticket>(`/tasks/${enc(id)}/assignee`, { method: "PUT", body: { assignee } }),

  mySubstitute: () => request<SubstituteState>("/me/substitute"),
  setSubstitute: (input: SubstituteInput) =>
    request<SubstituteState>("/me/substitute", { method: "PUT", body: input }),
  removeSubstitute: () => request<null>("/me/substitute", { method: "DELETE" }),

  notifications: (params: NotificationListParams) =>
    request<NotificationPage>("/notifications", { query: params }),
  markNotificationRead: (id: string) =>
    request<unknown>(`/notifications/${encodeURIComponent(id)}/read`, { method: "POST" }),
  markAllNotificationsRead: () => request<{ unread: number }>("/notifications/read-all", { method: "POST" }),
};
