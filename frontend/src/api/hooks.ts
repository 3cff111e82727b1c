import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "./client";
import {
  MOVING_STATUSES,
  type CompleteTaskInput,
  type SubstituteInput,
  type Task,
  type TaskListParams,
  type Ticket,
  type TicketInput,
  type TicketUpdate,
  type TicketListParams,
  type TicketStatus,
} from "./types";

export const FAST_POLL_MS = 2000;
export const LIST_POLL_MS = 5000;
export const SLOW_POLL_MS = 15000;

export const keys = {
  tickets: (params?: TicketListParams) => (params ? ["tickets", params] : ["tickets"]) as readonly unknown[],
  ticket: (id: string) => ["ticket", id] as const,
  history: (id: string) => ["ticket", id, "history"] as const,
  process: (id: string) => ["ticket", id, "process"] as const,
  ticketTypes: ["ticket-types"] as const,
  /** Every query of the caller's tasks starts with this, so one invalidation refreshes them all. */
  allTasks: ["tasks"] as const,
  /** A page of the inbox: the key holds every parameter the request sends, the page size included, so the
   * header's count (page_size=1) and the inbox page never read each other's cached answer. */
  tasks: (params: TaskListParams) => ["tasks", "page", params] as const,
  taskCount: ["tasks", "count"] as const,
  notifications: ["notifications"] as const,
  demoUsers: ["demo-users"] as const,
  substitute: ["me", "substitute"] as const,
  authProviders: ["auth-providers"] as const,
};

function pollFor(status: TicketStatus | undefined) {
  return status && MOVING_STATUSES.includes(status) ? FAST_POLL_MS : SLOW_POLL_MS;
}

export function useTickets(params: TicketListParams) {
  return useQuery({
    queryKey: keys.tickets(params),
    queryFn: () => api.listTickets(params),
    refetchInterval: LIST_POLL_MS,
    placeholderData: keepPreviousData,
  });
}

export function useTicket(id: string) {
  return useQuery({
    queryKey: keys.ticket(id),
    queryFn: () => api.getTicket(id),
    refetchInterval: (q) => pollFor(q.state.data?.status),
  });
}

/** The ticket types rarely change while the UI is open: read once per session. */
export function useTicketTypes() {
  return useQuery({ queryKey: keys.ticketTypes, queryFn: api.ticketTypes, staleTime: 5 * 60_000 });
}

export function useHistory(id: string, status: TicketStatus | undefined, version?: number) {
  return useQuery({
    // The version is in the key: a step completed in parallel changes the ticket, not always its status.
    queryKey: [...keys.history(id), status, version],
    queryFn: () => api.history(id),
    refetchInterval: pollFor(status),
    placeholderData: keepPreviousData,
  });
}

export function useProcess(id: string, status: TicketStatus | undefined, enabled: boolean, version?: number) {
  return useQuery({
    queryKey: [...keys.process(id), status, version],
    queryFn: () => api.process(id),
    enabled,
    refetchInterval: pollFor(status),
    placeholderData: keepPreviousData,
  });
}

export function useTasks(params: TaskListParams) {
  return useQuery({
    queryKey: keys.tasks(params),
    queryFn: () => api.tasks(params),
    refetchInterval: LIST_POLL_MS,
    placeholderData: keepPreviousData,
  });
}

/** How many tasks wait for the caller (the header's badge): one item asked for, the total read. */
export function useTaskCount(enabled = true) {
  return useQuery({
    queryKey: keys.taskCount,
    queryFn: () => api.tasks({ page: 1, page_size: 1 }),
    select: (page) => page.total,
    refetchInterval: LIST_POLL_MS,
    enabled,
  });
}

/** How to sign in here: password, and single sign-on when the server has it. */
export function useAuthProviders() {
  return useQuery({
    queryKey: keys.authProviders,
    queryFn: api.providers,
    retry: false,
    staleTime: Infinity,
  });
}

export function useDemoUsers() {
  return useQuery({
    queryKey: keys.demoUsers,
    queryFn: api.demoUsers,
    retry: false,
    staleTime: Infinity,
  });
}

/** Notifications may not exist on this server: a 404 hides the feature instead of showing an error. */
export function useNotifications(
  enabled: boolean,
  { page = 1, pageSize = 10, unreadOnly = false }: { page?: number; pageSize?: number; unreadOnly?: boolean } = {},
) {
  const query = useQuery({
    queryKey: [...keys.notifications, { page, pageSize, unreadOnly }],
    queryFn: () => api.notifications({ unread_only: unreadOnly, page, page_size: pageSize }),
    enabled,
    refetchInterval: (q) => (isMissing(q.state.error) ? false : 10000),
    retry: (count, error) => !isMissing(error) && count < 2,
    placeholderData: keepPreviousData,
  });
  return { ...query, unavailable: isMissing(query.error) };
}

function isMissing(error: unknown) {
  return error instanceof ApiError && error.status === 404;
}

function useInvalidateTicket() {
  const qc = useQueryClient();
  return (ticket?: Ticket | null, id?: string) => {
    if (ticket) qc.setQueryData(keys.ticket(ticket.id), ticket);
    void qc.invalidateQueries({ queryKey: ["tickets"] });
    void qc.invalidateQueries({ queryKey: keys.allTasks });
    void qc.invalidateQueries({ queryKey: keys.notifications });
    const which = ticket?.id ?? id;
    if (which) void qc.invalidateQueries({ queryKey: keys.ticket(which) });
  };
}

export function useCreateTicket() {
  const invalidate = useInvalidateTicket();
  return useMutation({ mutationFn: (input: TicketInput) => api.createTicket(input), onSuccess: (t) => invalidate(t) });
}

export function useUpdateTicket(id: string) {
  const invalidate = useInvalidateTicket();
  return useMutation({
    mutationFn: (input: TicketUpdate) => api.updateTicket(id, input),
    onSuccess: (t) => invalidate(t),
  });
}

export type TicketCommand =
  | { action: "submit" }
  | { action: "approve"; comment?: string }
  | { action: "reject"; comment: string }
  | { action: "withdraw"; comment?: string }
  | { action: "retry"; comment?: string }
  | { action: "resubmit" }
  | { action: "delete" };

export function useTicketAction(id: string) {
  const invalidate = useInvalidateTicket();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (input: TicketCommand): Promise<Ticket | null> => {
      switch (input.action) {
        case "submit":
          return api.submit(id);
        case "approve":
          return api.approve(id, input.comment);
        case "reject":
          return api.reject(id, input.comment);
        case "withdraw":
          return api.withdraw(id, input.comment);
        case "retry":
          return api.retry(id, input.comment);
        case "resubmit":
          return api.resubmit(id);
        case "delete":
          await api.deleteTicket(id);
          return null;
      }
    },
    onSuccess: (result, input) => {
      if (input.action === "delete") {
        qc.removeQueries({ queryKey: keys.ticket(id) });
        invalidate(null);
      } else if (input.action === "resubmit") {
        // The answer is the new draft; the old ticket's links change too.
        invalidate(result, id);
      } else invalidate(result);
    },
    // A refusal (e.g. someone else decided first) changes what the screen should offer: refresh.
    onError: () => invalidate(null, id),
  });
}

export function useCompleteTask(ticketId: string) {
  const invalidate = useInvalidateTicket();
  return useMutation({
    mutationFn: ({ taskId, input }: { taskId: string; input: CompleteTaskInput }) => api.completeTask(taskId, input),
    onSuccess: (t) => invalidate(t),
    onError: () => invalidate(null, ticketId),
  });
}

/** Claim a step, give it back, or (admins) give it to someone: the ticket comes back with the step's new holder. */
export function useTaskHolder(ticketId: string) {
  const invalidate = useInvalidateTicket();
  return useMutation({
    mutationFn: (change: { taskId: string } & ({ action: "claim" } | { action: "unclaim" } | { action: "reassign"; assignee: string | null })) =>
      change.action === "claim"
        ? api.claimTask(change.taskId)
        : change.action === "unclaim"
          ? api.unclaimTask(change.taskId)
          : api.reassignTask(change.taskId, change.assignee),
    onSuccess: (t) => invalidate(t),
    onError: () => invalidate(null, ticketId),
  });
}

/** The substitute the caller named, and whom they stand in for now. */
export function useMySubstitute() {
  return useQuery({ queryKey: keys.substitute, queryFn: api.mySubstitute });
}

export function useSetSubstitute() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (input: SubstituteInput) => api.setSubstitute(input),
    onSuccess: (state) => qc.setQueryData(keys.substitute, state),
  });
}

export function useRemoveSubstitute() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api.removeSubstitute(),
    onSuccess: () => void qc.invalidateQueries({ queryKey: keys.substitute }),
  });
}

/** One item of a bulk decision: the ticket's answer, or the server's refusal for that item. */
export type BulkOutcome = { task: Task; ok: true; ticket: Ticket } | { task: Task; ok: false; error: unknown };

/**
 * Decide several tasks, one `POST /api/tasks/<id>/complete` each (as a ticket page completes one), in order;
 * a refusal of one item (separation of duties, decided by someone else first) does not stop the rest.
 */
export function useBulkComplete() {
  const invalidate = useInvalidateTicket();
  return useMutation({
    mutationFn: async ({
      items,
      onProgress,
    }: {
      items: { task: Task; input: CompleteTaskInput }[];
      onProgress?: (done: number) => void;
    }): Promise<BulkOutcome[]> => {
      const out: BulkOutcome[] = [];
      for (const { task, input } of items) {
        try {
          out.push({ task, ok: true, ticket: await api.completeTask(task.id, input) });
        } catch (error) {
          out.push({ task, ok: false, error });
        }
        onProgress?.(out.length);
      }
      return out;
    },
    onSettled: (outcomes) => {
      for (const o of outcomes ?? []) if (o.ok) invalidate(o.ticket);
      invalidate(null);
    },
  });
}

export function useMarkNotificationRead() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.markNotificationRead(id),
    onSettled: () => qc.invalidateQueries({ queryKey: keys.notifications }),
  });
}

export function useMarkAllNotificationsRead() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: api.markAllNotificationsRead,
    onSettled: () => qc.invalidateQueries({ queryKey: keys.notifications }),
  });
}
