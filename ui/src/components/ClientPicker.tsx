import { useEffect, useState } from "react";
import { useClients } from "../hooks";
import { ErrorBox } from "./ErrorBox";

/** The client a page acts with: the only (or first) one until the person picks another. */
export function useChosenClient() {
  const { clients, error } = useClients();
  const [client, setClient] = useState("");
  useEffect(() => {
    if (clients && clients.length > 0 && !clients.some((c) => c.name === client)) setClient(clients[0].name);
  }, [clients, client]);
  return { clients, clientsError: error, client, setClient };
}

/** The "Client" field of a form, with why the list could not be read. */
export function ClientPicker({
  chosen,
  testId,
}: {
  chosen: ReturnType<typeof useChosenClient>;
  testId: string;
}) {
  const { clients, clientsError, client, setClient } = chosen;
  return (
    <>
      <label>
        <span>Client</span>
        <select value={client} onChange={(e) => setClient(e.target.value)} data-testid={testId}>
          {clients?.length === 0 && <option value="">(no client configured: import one on Clients)</option>}
          {clients?.map((c) => (
            <option key={c.name} value={c.name}>
              {c.name} — {c.client_id}
            </option>
          ))}
        </select>
      </label>
      <ErrorBox error={clientsError} />
    </>
  );
}
