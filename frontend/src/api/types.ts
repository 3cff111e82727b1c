// The HTTP API's shapes for process-driven tickets (the contract is the server's; see the API docs).

/** A ticket's status is read from its process instance, never kept ahead of it. */
export type TicketStatus = "draft" | "in_progress" | "needs_attention" | "completed" | "rejected" | "withdrawn";

export const TICKET_STATUSES: TicketStatus[] = [
  "draft",
  "in_progress",
  "needs_attention",
  "completed",
  "rejected",
  "withdrawn",
];

/** The statuses the engine is still working on: the screen polls faster while a ticket is in one. */
export const MOVING_STATUSES: TicketStatus[] = ["in_progress", "needs_attention"];

export type TicketAction = "edit" | "submit" | "delete" | "withdraw" | "retry" | "resubmit" | "approve" | "reject";

export interface User {
  username: string;
  display_name: string;
  roles: string[];
  groups?: string[];
}

export interface LoginResult {
  token: string;
  expires_in: number;
  user: User;
}

/** One property of a ticket type's form: the JSON Schema subset the server validates with. */
export interface SchemaProperty {
  type: "string" | "number" | "integer" | "boolean";
  title?: string;
  "x-title"?: Record<string, string>;
  description?: string;
  "x-description"?: Record<string, string>;
  "x-widget"?: "textarea" | string;
  format?: "date" | string;
  enum?: (string | number)[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
}

export interface FormSchema {
  type: "object";
  required?: string[];
  properties: Record<string, SchemaProperty>;
  /** the order to show the fields in (JSON objects have none a client may rely on) */
  "x-order"?: string[];
  additionalProperties?: boolean;
}

export interface TicketType {
  key: string;
  name: string;
  names?: Record<string, string>;
  description: string;
  descriptions?: Record<string, string>;
  process_key: string;
  default: boolean;
  summary_fields?: string[];
  form: FormSchema;
}

export type FieldValue = string | number | boolean | null;

/** A field of a step's form, as the BPMN declares it (camunda:formField). */
export interface FormField {
  id: string;
  label: string;
  type: "string" | "long" | "boolean" | "date" | "enum";
  required: boolean;
  default: FieldValue | undefined;
  values: { id: string; name: string }[];
  /** a boolean, or an enum offering approve/reject: shown as the Approve/Reject buttons */
  decision: boolean;
}

/** Why the caller may not complete a step (worded by the UI). */
export type Refusal = "not_a_candidate" | "own_ticket" | "last_editor" | "second_decision";

/** An open user task of a ticket's process. */
export interface Step {
  id: string;
  /** the task's id in the BPMN */
  step: string;
  name: string;
  candidate_groups: string[];
  candidate_users: string[];
  assignee: string | null;
  due: string | null;
  created_at: string | null;
  form: FormField[];
  can_complete: boolean;
  refusal: Refusal | null;
}

export interface Ticket {
  id: string;
  type: string;
  type_name: string;
  title: string;
  fields: Record<string, FieldValue>;
  requester: string;
  status: TicketStatus;
  current_steps: string[];
  /** why it needs attention: the failed step's error, or "process_stopped"/"process_missing" */
  attention: string | null;
  created_at: string;
  updated_at: string;
  version: number;
  steps: Step[];
  allowed_actions: TicketAction[];
}

export interface TaskTicket {
  id: string;
  type: string;
  type_name: string;
  title: string;
  requester: string;
  status: TicketStatus;
  fields: Record<string, FieldValue>;
  created_at: string;
}

/** A step the caller may complete now, with the ticket it belongs to. */
export interface Task extends Step {
  ticket: TaskTicket;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export interface HistoryDetails {
  changed?: string[];
  reference?: string;
  error?: string;
  reason?: string;
  recorded_from?: string;
  step?: string;
  step_name?: string;
  task_id?: string;
  values?: Record<string, FieldValue>;
  ticket_id?: string;
  by?: string;
}

export interface HistoryEntry {
  at: string;
  actor: string;
  action: string;
  /** a status of today's model, or of an entry recorded before process-driven tickets (e.g. pending_approval) */
  from_status: TicketStatus | string | null;
  to_status: TicketStatus | string;
  /** what the actor wrote */
  comment: string | null;
  /** facts the system recorded; absent or empty for entries from before they were kept */
  details?: HistoryDetails;
}

export interface ProcessView {
  ticket_id: string;
  state: "active" | "completed" | "terminated" | "incident" | null;
  definition_xml: string;
  active_activity_ids: string[];
  completed_activity_ids: string[];
  incidents: string[];
}

export interface Notification {
  id: string;
  ticket_id: string | null;
  kind: string;
  /** the text in English */
  message: string;
  /** what the message is made from (title, actor, amount, comment, reference, error), to word it in the reader's language */
  params?: Record<string, string>;
  created_at: string;
  read_at: string | null;
}

export interface NotificationPage extends Page<Notification> {
  unread: number;
}

export interface TicketInput {
  type?: string;
  title?: string;
  fields?: Record<string, FieldValue>;
  version?: number;
}

export interface TicketListParams {
  status?: string;
  type?: string;
  requester?: string;
  q?: string;
  sort?: string;
  page?: number;
  page_size?: number;
}

export interface TaskListParams {
  type?: string;
  group?: string;
  step?: string;
  status?: string;
  q?: string;
  sort?: string;
  page: number;
  page_size: number;
}

export interface CompleteTaskInput {
  variables: Record<string, FieldValue>;
  comment?: string | null;
}
