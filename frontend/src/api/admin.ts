// The operators' API: figures of the flows (/api/stats), failed automated steps (/api/incidents) and the
// directory of users and groups (/api/users). Admins see all three; members of a group see the figures.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, request } from "./client";
import { keys, LIST_POLL_MS, SLOW_POLL_MS } from "./hooks";
import type { components } from "./schema";
import type { User } from "./types";

// Every shape here is the API's own, from its OpenAPI document (schema.d.ts), so a change on the server
// fails the type check instead of drifting.
type Schemas = components["schemas"];

export type AgeBucket = NonNullable<Schemas["AgeCount"]["bucket"]>;
export const AGE_BUCKETS: AgeBucket[] = ["lt_1d", "d1_3", "d3_7", "gt_7d"];

export type OpenTasksOfGroup = Schemas["OpenTasks"];
export type CycleTimeOfType = Schemas["TypeDuration"];
export type CycleTimeOfStep = Schemas["StepDuration"];
export type WeekThroughput = Schemas["Week"];
export type RejectionRate = Schemas["RejectionRate"];
export type Stats = Schemas["Stats"];
/** An automated step that failed and waits for an admin. */
export type Incident = Schemas["Incident"];
export type IncidentList = Schemas["IncidentPage"];
export type DirectoryUser = Schemas["DirectoryUser"];
export type DirectoryGroup = Schemas["DirectoryGroup"];
export type Directory = Schemas["Directory"];

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
