import { useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "./api";
import type { ClientView } from "./bindings/ClientView";
import type { CommandError } from "./bindings/CommandError";

/**
 * A button's action: `busy` while it runs, its failure in `error` (cleared when it runs again),
 * shown where the person pressed.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<CommandError | null>(null);
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

/** The current time, re-rendered every `intervalMs`. */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

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
