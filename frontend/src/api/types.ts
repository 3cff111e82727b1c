export type TicketStatus =
  | "draft"
  | "pending_approval"
  | "approved"
  | "rejected"
  | "completed"
  | "provisioning_failed";

export const TICKET_STATUSES: TicketStatus[] = [
  "draft",
  "pending_approval",
  "approved",
  "rejected",
  "completed",
  "provisioning_failed",
];

export type Priority = "low" | "normal" | "high";
export const PRIORITIES: Priority[] = ["low", "normal", "high"];

export type TicketAction = "edit" | "submit" | "approve" | "reject" | "retry_provisioning";

export interface User {
  username: string;
  display_name: string;
  roles: string[];
}

export interface LoginResult {
  token: string;
  expires_in: number;
  user: User;
}

export interface Ticket {
  id: string;
  title: string;
  description: string;
  amount: string | null;
  priority: Priority;
  status: TicketStatus;
  requester: string;
  approver: string | null;
  fulfilment_reference: string | null;
  created_at: string;
  updated_at: string;
  version: number;
  allowed_actions: TicketAction[];
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export type HistoryAction =
  | "created"
  | "updated"
  | "submitted"
  | "approved"
  | "rejected"
  | "completed"
  | "provisioning_failed"
  | "provisioning_retried";

export interface HistoryEntry {
  at: string;
  actor: string;
  action: HistoryAction | string;
  from_status: TicketStatus | null;
  to_status: TicketStatus;
  /** what the actor wrote */
  comment: string | null;
  /** facts the system recorded; absent or empty for entries from before they were kept */
  details?: { changed?: string[]; reference?: string; error?: string; reason?: string; recorded_from?: string };
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
  title?: string;
  description?: string;
  amount?: string | null;
  priority?: Priority;
  version?: number;
}

export interface TicketListParams {
  status?: string;
  q?: string;
  page?: number;
  page_size?: number;
}
