import { useEffect, useRef } from "react";

/**
 * After an action, focus goes to what it produced (the result or status message), never back to the body:
 * the returned ref's element (give it tabIndex={-1}) is focused whenever `trigger` becomes a new truthy value,
 * or, when the element could not be shown yet (the page still loading), once `ready` turns true.
 */
export function useFocusOn<T extends HTMLElement>(trigger: unknown, ready = true) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (trigger && ready) ref.current?.focus();
  }, [trigger, ready]);
  return ref;
}
