declare module "bpmn-auto-layout" {
  /** Adds a diagram (BPMN DI) laid out automatically to a BPMN XML without one. */
  export function layoutProcess(xml: string): Promise<string>;
}
