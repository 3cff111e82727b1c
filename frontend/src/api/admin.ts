// The operators' API: figures of the flows (/api/stats), failed automated steps (/api/incidents) and the
// directory of users and groups (/api/users). Admins see all three; members of a group see the figures.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, request } from "./client";
import { keys, LIST_POLL_MS, SLOW_POLL_MS } from "./hooks";
import type { User } from "./types";

export type AgeBucket = "lt_1d" | "d1_3" | "d3_7" | "gt_7d";
export const AGE_BUCKETS: AgeBucket[] = ["lt_1d", "d1_3", "d3_7", "gt_7d"];

export interface OpenTasksOfGroup {
  group: string;
  total: number;
  by_age: { bucket: AgeBucket; count: number }[];
}

export interface CycleTimeOfType {
  type: string;
  count: number;
  median_s: number;
  p90_s: number;
}

export interface CycleTimeOfStep extends CycleTimeOfType {
  /** the step's name in the BPMN */
  step: string;
  step_id: string;
}

export interface WeekThroughput {
  /** the week's Monday (UTC), YYYY-MM-DD */
  week_start: string;
  created: number;
  completed: number;
  rejected: number;
}

export interface RejectionRate {
  decided: number;
  rejected: number;
  /** rejected / decided, or null while nothing was decided */
  rate: number | null;
}

export interface Stats {
  generated_at: string;
  open_tasks: OpenTasksOfGroup[];
  cycle_time: { by_type: CycleTimeOfType[]; by_step: CycleTimeOfStep[] };
  throughput: WeekThroughput[];
  rejection_rate: RejectionRate & { by_type: (RejectionRate & { type: string })[] };
}

/** An automated step that failed and waits for an admin. */
export interface Incident {
  ticket_id: string;
  title: string;
  type: string;
  requester: string;
  /** the step's name in the BPMN */
  step: string;
  step_id: string | null;
  /** the full error text */
  error: string;
  retries_left: number | null;
  failed_at: string;
}

export interface IncidentList {
  items: Incident[];
  total: number;
}

export interface DirectoryUser {
  username: string;
  name: string;
  roles: string[];
  groups: string[];
}

export interface DirectoryGroup {
  name: string;
  members: string[];
}

export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

export const DEFAULT_WEEKS = 12;

export const adminApi = {
  stats: (weeks: number = DEFAULT_WEEKS) => request<Stats>("/stats", { query: { weeks } }),
  incidents: () => request<IncidentList>("/incidents"),
  users: () => request<Directory>("/users"),
  retry: (ticketId: string, comment?: string) => api.retry(ticketId, comment),
};

export const adminKeys = {
  stats: (weeks: number) => ["stats", weeks] as const,
  incidents: ["incidents"] as const,
  users: ["users"] as const,
};

/** Who may open which operator page (the server decides all the same: a 403 is worded too). */
export function isAdmin(user: User | null | undefined) {
  return !!user?.roles.includes("admin");
}

export function maySeeDashboard(user: User | null | undefined) {
  return isAdmin(user) || (user?.groups?.length ?? 0) > 0;
}

export function isForbidden(error: unknown) {
  return error instanceof ApiError && error.status === 403;
}

export function useStats(weeks: number = DEFAULT_WEEKS, enabled = true) {
  return useQuery({
    queryKey: adminKeys.stats(weeks),
    queryFn: () => adminApi.stats(weeks),
    enabled,
    refetchInterval: 60_000,
  });
}

/** The open incidents; the header's badge reads the same query (its total). */
export function useIncidents(enabled = true, pollMs: number = LIST_POLL_MS) {
  return useQuery({
    queryKey: adminKeys.incidents,
    queryFn: adminApi.incidents,
    enabled,
    refetchInterval: (q) => (isForbidden(q.state.error) ? false : pollMs),
  });
}

export function useIncidentCount(enabled: boolean) {
  const query = useIncidents(enabled, SLOW_POLL_MS);
  return query.data?.total ?? 0;
}

export function useDirectory(enabled = true) {
  return useQuery({
    queryKey: adminKeys.users,
    queryFn: adminApi.users,
    enabled,
    staleTime: 60_000,
  });
}

/** Run a failed step again; the incidents, the ticket and the lists are read again afterwards either way. */
export function useRetryIncident(ticketId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (comment?: string) => adminApi.retry(ticketId, comment),
    onSuccess: (ticket) => qc.setQueryData(keys.ticket(ticket.id), ticket),
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: adminKeys.incidents });
      void qc.invalidateQueries({ queryKey: ["tickets"] });
      void qc.invalidateQueries({ queryKey: keys.ticket(ticketId) });
      void qc.invalidateQueries({ queryKey: keys.notifications });
    },
  });
}
