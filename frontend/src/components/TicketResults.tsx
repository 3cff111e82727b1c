import { useTranslation } from "react-i18next";
import type { Ticket } from "../api/types";
import { useFormat } from "../i18n/format";

export type ResultValue = Ticket["results"][string];

/** The fulfilment reference first, then the other results in the order the server sent them. */
export function resultNames(results: Ticket["results"]): string[] {
  const names = Object.keys(results ?? {});
  return [...names.filter((n) => n === "fulfilment_reference"), ...names.filter((n) => n !== "fulfilment_reference")];
}

/** A result's name in the reader's language: PFlow's own (the fulfilment reference) worded, a team's step's own
 * results by their variable name. */
export function useResultWords() {
  const { t } = useTranslation();
  const fmt = useFormat();
  return {
    label: (name: string) => t(`results.${name}`, { defaultValue: name }),
    value: (value: ResultValue): string => {
      if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
      if (typeof value === "number") return fmt.number(value, Number.isInteger(value) ? 0 : 2);
      return value;
    },
  };
}

/** What the ticket's automated steps returned, as facts (rows of the details' list); nothing when none. */
export function TicketResults({ results }: { results: Ticket["results"] }) {
  const words = useResultWords();
  return (
    <>
      {resultNames(results).map((name) => (
        <div key={name} data-result={name}>
          <dt>{words.label(name)}</dt>
          <dd className="wrap-anywhere" data-testid={name === "fulfilment_reference" ? "fulfilment-reference" : undefined}>
            {words.value(results[name])}
          </dd>
        </div>
      ))}
    </>
  );
}
