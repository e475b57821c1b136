import { useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { ClientView } from "../bindings/ClientView";
import type { CommandError } from "../bindings/CommandError";

/** The configured clients (clients_list), reloadable. */
export function useClients() {
  const [clients, setClients] = useState<ClientView[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const reload = useCallback(async () => {
    try {
      setClients(await call("clients_list", {}));
      setError(null);
    } catch (e) {
      setError(toCommandError(e));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { clients, error, reload };
}
