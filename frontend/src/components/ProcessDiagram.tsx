import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import type { ProcessView } from "../api/types";
import { hasDiagramInterchange, stepStates, translateNames, type StepState } from "./diagram";

const MARKER: Record<Exclude<StepState, "todo">, string> = {
  done: "pf-done",
  active: "pf-active",
  incident: "pf-incident",
};
const ALL_MARKERS = [...Object.values(MARKER), "pf-flow-done"];

interface ElementLike {
  id: string;
  type: string;
  businessObject?: { sourceRef?: { id: string }; targetRef?: { id: string } };
}

/**
 * The ticket's BPMN drawn by bpmn-js, with finished steps, the current step and incidents marked.
 * A definition without a diagram section is laid out automatically; if even that fails, `onUnavailable` is called.
 */
export default function ProcessDiagram({ view, onUnavailable }: { view: ProcessView; onUnavailable: (why: string) => void }) {
  const { t, i18n } = useTranslation();
  const host = useRef<HTMLDivElement>(null);
  const viewer = useRef<NavigatedViewer | null>(null);
  const [imported, setImported] = useState<string | null>(null);

  const xml = useMemo(
    () =>
      translateNames(view.definition_xml, (id) => {
        const name = t(`bpmn.${id}`, { defaultValue: "" });
        return name || undefined;
      }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [view.definition_xml, i18n.language],
  );

  useEffect(() => {
    if (!host.current) return;
    const v = new NavigatedViewer({ container: host.current });
    viewer.current = v;
    return () => {
      v.destroy();
      viewer.current = null;
    };
  }, []);

  useEffect(() => {
    let cancelled = false;
    const v = viewer.current;
    if (!v) return;
    (async () => {
      try {
        let source = xml;
        if (!hasDiagramInterchange(source)) {
          const { layoutProcess } = await import("bpmn-auto-layout");
          source = await layoutProcess(source);
        }
        if (cancelled) return;
        await v.importXML(source);
        if (cancelled) return;
        (v.get("canvas") as { zoom: (a: string, b: string) => void }).zoom("fit-viewport", "auto");
        setImported(xml);
      } catch (err) {
        if (!cancelled) onUnavailable(err instanceof Error ? err.message : String(err));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [xml, onUnavailable]);

  // Markers follow the process without re-importing the diagram.
  useEffect(() => {
    const v = viewer.current;
    if (!v || imported !== xml) return;
    const canvas = v.get("canvas") as {
      addMarker: (id: string, m: string) => void;
      removeMarker: (id: string, m: string) => void;
    };
    const registry = v.get("elementRegistry") as { getAll: () => ElementLike[] };
    const states = stepStates(view);
    for (const el of registry.getAll()) {
      if (el.type === "label") continue;
      for (const m of ALL_MARKERS) canvas.removeMarker(el.id, m);
      const state = states.get(el.id);
      if (state && state !== "todo") canvas.addMarker(el.id, MARKER[state]);
      if (el.type === "bpmn:SequenceFlow") {
        const source = el.businessObject?.sourceRef?.id;
        const target = el.businessObject?.targetRef?.id;
        if (source && target && states.get(source) === "done" && states.has(target)) canvas.addMarker(el.id, "pf-flow-done");
      }
    }
  }, [view, imported, xml]);

  return <div ref={host} className="diagram-canvas" data-testid="bpmn-canvas" data-ready={imported === xml ? "true" : "false"} />;
}
