import { useEffect, useRef } from "react";

/**
 * After an action, focus goes to what it produced (the result or status message), never back to the body:
 * the returned ref's element (give it tabIndex={-1}) is focused whenever `trigger` becomes a new truthy value.
 */
export function useFocusOn<T extends HTMLElement>(trigger: unknown) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (trigger) ref.current?.focus();
  }, [trigger]);
  return ref;
}
