import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "./client";
import type { Ticket, TicketInput, TicketListParams, TicketStatus } from "./types";

/** Statuses the backend is still working on: poll faster so the screen follows the process. */
const MOVING: TicketStatus[] = ["pending_approval", "approved"];
export const FAST_POLL_MS = 2000;
export const LIST_POLL_MS = 5000;
export const SLOW_POLL_MS = 15000;

export const keys = {
  tickets: (params?: TicketListParams) => (params ? ["tickets", params] : ["tickets"]) as readonly unknown[],
  ticket: (id: string) => ["ticket", id] as const,
  history: (id: string) => ["ticket", id, "history"] as const,
  process: (id: string) => ["ticket", id, "process"] as const,
  approvals: (page?: number) => (page ? ["approvals", page] : ["approvals"]) as readonly unknown[],
  notifications: ["notifications"] as const,
  demoUsers: ["demo-users"] as const,
};

function pollFor(status: TicketStatus | undefined) {
  return status && MOVING.includes(status) ? FAST_POLL_MS : SLOW_POLL_MS;
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

export function useHistory(id: string, status: TicketStatus | undefined) {
  return useQuery({
    queryKey: [...keys.history(id), status],
    queryFn: () => api.history(id),
    refetchInterval: pollFor(status),
    placeholderData: keepPreviousData,
  });
}

export function useProcess(id: string, status: TicketStatus | undefined, enabled: boolean) {
  return useQuery({
    queryKey: [...keys.process(id), status],
    queryFn: () => api.process(id),
    enabled,
    refetchInterval: pollFor(status),
    placeholderData: keepPreviousData,
  });
}

export function useApprovals(page: number, pageSize: number, enabled = true) {
  return useQuery({
    queryKey: keys.approvals(page),
    queryFn: () => api.approvals(page, pageSize),
    refetchInterval: LIST_POLL_MS,
    placeholderData: keepPreviousData,
    enabled,
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
  return (ticket?: Ticket) => {
    if (ticket) qc.setQueryData(keys.ticket(ticket.id), ticket);
    void qc.invalidateQueries({ queryKey: ["tickets"] });
    void qc.invalidateQueries({ queryKey: ["approvals"] });
    void qc.invalidateQueries({ queryKey: keys.notifications });
    if (ticket) void qc.invalidateQueries({ queryKey: keys.ticket(ticket.id) });
  };
}

export function useCreateTicket() {
  const invalidate = useInvalidateTicket();
  return useMutation({ mutationFn: (input: TicketInput) => api.createTicket(input), onSuccess: invalidate });
}

export function useUpdateTicket(id: string) {
  const invalidate = useInvalidateTicket();
  return useMutation({ mutationFn: (input: TicketInput) => api.updateTicket(id, input), onSuccess: invalidate });
}

export type DecisionInput =
  | { action: "submit" }
  | { action: "approve"; comment?: string }
  | { action: "reject"; comment: string }
  | { action: "retry_provisioning"; comment?: string };

export function useTicketAction(id: string) {
  const invalidate = useInvalidateTicket();
  return useMutation({
    mutationFn: (input: DecisionInput) => {
      switch (input.action) {
        case "submit":
          return api.submit(id);
        case "approve":
          return api.approve(id, input.comment);
        case "reject":
          return api.reject(id, input.comment);
        case "retry_provisioning":
          return api.retryProvisioning(id, input.comment);
      }
    },
    onSuccess: invalidate,
    // A refusal (e.g. someone else decided first) changes what the screen should offer: refresh.
    onError: () => invalidate(),
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
