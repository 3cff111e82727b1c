/** Pure helpers for the process diagram (no bpmn-js here, so they load and test cheaply). */
import type { ProcessView } from "../api/types";

export const BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL";
export const BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI";

/** The flow nodes the UI talks about, in the order a ticket normally passes them. */
export const STEP_TYPES = [
  "startEvent",
  "userTask",
  "serviceTask",
  "task",
  "exclusiveGateway",
  "parallelGateway",
  "intermediateCatchEvent",
  "intermediateThrowEvent",
  "endEvent",
];

function parse(xml: string): Document | null {
  if (!xml) return null;
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  return doc.getElementsByTagName("parsererror").length ? null : doc;
}

/** True when the XML carries a drawable diagram (BPMN DI shapes), not just the process model. */
export function hasDiagramInterchange(xml: string): boolean {
  const doc = parse(xml);
  return !!doc && doc.getElementsByTagNameNS(BPMNDI_NS, "BPMNShape").length > 0;
}

/** Replace element names by translations keyed by element id; elements without one keep theirs. */
export function translateNames(xml: string, nameFor: (id: string) => string | undefined): string {
  const doc = parse(xml);
  if (!doc) return xml;
  let changed = false;
  for (const el of Array.from(doc.getElementsByTagNameNS(BPMN_NS, "*"))) {
    const id = el.getAttribute("id");
    if (!id || !el.hasAttribute("name")) continue;
    const name = nameFor(id);
    if (name && name !== el.getAttribute("name")) {
      el.setAttribute("name", name);
      changed = true;
    }
  }
  return changed ? new XMLSerializer().serializeToString(doc) : xml;
}

export interface Step {
  id: string;
  name: string;
  type: string;
}

/** The process's flow nodes in document order (for the text fallback and the "current step" line). */
export function stepsOf(xml: string): Step[] {
  const doc = parse(xml);
  if (!doc) return [];
  const process = doc.getElementsByTagNameNS(BPMN_NS, "process")[0];
  if (!process) return [];
  return Array.from(process.children)
    .filter((el) => el.namespaceURI === BPMN_NS && STEP_TYPES.includes(el.localName))
    .map((el) => ({ id: el.getAttribute("id") ?? "", name: el.getAttribute("name") ?? el.getAttribute("id") ?? "", type: el.localName }));
}

export type StepState = "done" | "active" | "incident" | "todo";

/** Which marker each activity gets: the current step wins over "done" (a loop may pass a step twice). */
export function stepStates(view: Pick<ProcessView, "state" | "active_activity_ids" | "completed_activity_ids">) {
  const states = new Map<string, StepState>();
  for (const id of view.completed_activity_ids) states.set(id, "done");
  for (const id of view.active_activity_ids) states.set(id, view.state === "incident" ? "incident" : "active");
  return states;
}
