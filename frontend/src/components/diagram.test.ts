import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { hasDiagramInterchange, stepsOf, stepStates, translateNames } from "./diagram";

const deployed = readFileSync(resolve(import.meta.dirname, "../../../deploy/workflows/ticket-process.bpmn"), "utf8");
const withDi = readFileSync(resolve(import.meta.dirname, "../test/fixtures/ticket-process-di.bpmn"), "utf8");

describe("diagram helpers", () => {
  it("tells a definition with a diagram section from one without", () => {
    expect(hasDiagramInterchange(withDi)).toBe(true);
    expect(hasDiagramInterchange("<not-xml")).toBe(false);
    expect(hasDiagramInterchange("")).toBe(false);
  });

  it("lists the process steps in document order with their names", () => {
    const steps = stepsOf(deployed);
    expect(steps.map((s) => s.id)).toEqual([
      "TicketSubmitted",
      "ManagerApproval",
      "ApprovalDecision",
      "ProvisionService",
      "Completed",
      "Rejected",
    ]);
    expect(steps[1]).toMatchObject({ name: "Manager Approval", type: "userTask" });
  });

  it("translates names by element id and leaves the rest alone", () => {
    const xml = translateNames(withDi, (id) => ({ ManagerApproval: "经理审批" })[id]);
    const names = Object.fromEntries(stepsOf(xml).map((s) => [s.id, s.name]));
    expect(names.ManagerApproval).toBe("经理审批");
    expect(names.ProvisionService).toBe("Provision Service");
    expect(hasDiagramInterchange(xml)).toBe(true);
  });

  it("marks the current step over a finished one, and as an incident when the process is stuck", () => {
    const view = { state: "active" as const, completed_activity_ids: ["TicketSubmitted"], active_activity_ids: ["ManagerApproval"] };
    expect(Object.fromEntries(stepStates(view))).toEqual({ TicketSubmitted: "done", ManagerApproval: "active" });
    const stuck = { ...view, state: "incident" as const, active_activity_ids: ["ProvisionService"] };
    expect(stepStates(stuck).get("ProvisionService")).toBe("incident");
  });
});
