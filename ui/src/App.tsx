import { useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "./api";
import type { AppStatus } from "./bindings/AppStatus";
import type { CommandError } from "./bindings/CommandError";
import { ErrorBox } from "./components/ErrorBox";
import type { Page } from "./nav";
import { AboutPage } from "./pages/AboutPage";
import { AuditPage } from "./pages/AuditPage";
import { ClientsPage } from "./pages/ClientsPage";
import { ExchangePage } from "./pages/ExchangePage";
import { InspectorPage } from "./pages/InspectorPage";
import { ReceiverPage } from "./pages/ReceiverPage";
import { SandboxPage } from "./pages/SandboxPage";
import { UserPage } from "./pages/UserPage";
import { UsersPage } from "./pages/UsersPage";

const NAV: { name: Page["name"]; label: string }[] = [
  { name: "users", label: "Users" },
  { name: "exchange", label: "Exchange" },
  { name: "inspector", label: "Inspector" },
  { name: "receiver", label: "Receiver" },
  { name: "clients", label: "Clients" },
  { name: "sandbox", label: "Sandbox" },
  { name: "audit", label: "Audit" },
  { name: "about", label: "About" },
];

export function App() {
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [statusError, setStatusError] = useState<CommandError | null>(null);
  const [page, setPage] = useState<Page | null>(null);
  const [switching, setSwitching] = useState(false);
  const [modeError, setModeError] = useState<CommandError | null>(null);
  // Bumped whenever the store in view changes, so pages reload their data.
  const [epoch, setEpoch] = useState(0);

  const refreshStatus = useCallback(async () => {
    try {
      const s = await call("app_status", {});
      setStatus(s);
      setStatusError(null);
      return s;
    } catch (e) {
      setStatusError(toCommandError(e));
      return null;
    }
  }, []);

  useEffect(() => {
    let alive = true;
    call("app_status", {})
      .then((s) => {
        if (!alive) return;
        setStatus(s);
        setPage(s.mode === "sandbox" ? { name: "sandbox" } : { name: "users" });
      })
      .catch((e: unknown) => {
        if (!alive) return;
        setStatusError(toCommandError(e));
        setPage({ name: "users" });
      });
    return () => {
      alive = false;
    };
  }, []);

  /** Switches the store in view; resolves to the error, if any, for the caller to show. */
  const switchMode = async (to: "live" | "sandbox"): Promise<CommandError | null> => {
    setSwitching(true);
    setModeError(null);
    try {
      const s = await call(to === "live" ? "use_live" : "use_sandbox", {});
      setStatus(s);
      setEpoch((n) => n + 1);
      setPage(to === "sandbox" ? { name: "sandbox" } : { name: "users" });
      return null;
    } catch (e) {
      return toCommandError(e);
    } finally {
      setSwitching(false);
    }
  };
  const headerSwitch = async (to: "live" | "sandbox") => {
    const err = await switchMode(to);
    if (err) setModeError(err);
  };

  /**
   * After an action that changes the store (an import switches to Live...): refresh the header.
   * The page that acted has reloaded its own data and keeps its success message on screen.
   */
  const onStatusChanged = useCallback(async () => {
    await refreshStatus();
  }, [refreshStatus]);

  const active = page?.name === "user" ? "users" : page?.name;
  const mode = status?.mode;

  return (
    <div className="app">
      <header className="header">
        <div className="brand">TokenDesk</div>
        <div className="mode-area">
          {status && (
            <span className={`mode mode-${status.mode}`} data-testid="mode">
              {status.mode === "sandbox" ? "Sandbox" : "Live"}
            </span>
          )}
          {status && <span className="muted small mono data-dir" title="Data directory">{status.data_dir}</span>}
          <button
            type="button"
            data-testid="use-live"
            disabled={switching || mode === "live"}
            onClick={() => void headerSwitch("live")}
          >
            Use live store
          </button>
          <button
            type="button"
            data-testid="use-sandbox"
            disabled={switching || mode === "sandbox"}
            onClick={() => void headerSwitch("sandbox")}
          >
            Use sandbox
          </button>
        </div>
      </header>
      {modeError && (
        <div className="banner">
          <ErrorBox error={modeError} onDismiss={() => setModeError(null)} />
        </div>
      )}
      {status?.live_error && (
        <div className="banner" data-testid="live-error">
          <div className="banner-title">Your own store is not available</div>
          <ErrorBox error={status.live_error} />
        </div>
      )}
      {statusError && (
        <div className="banner">
          <ErrorBox error={statusError} />
        </div>
      )}
      <div className="body">
        <nav className="nav">
          {NAV.map((n) => (
            <button
              type="button"
              key={n.name}
              data-testid={`nav-${n.name}`}
              className={active === n.name ? "nav-item active" : "nav-item"}
              aria-current={active === n.name ? "page" : undefined}
              onClick={() => setPage({ name: n.name } as Page)}
            >
              {n.label}
            </button>
          ))}
        </nav>
        <main className="main" key={epoch}>
          {page === null && <div className="muted">Loading…</div>}
          {page?.name === "users" && <UsersPage navigate={setPage} />}
          {page?.name === "user" && <UserPage key={page.sub} sub={page.sub} navigate={setPage} />}
          {page?.name === "exchange" && <ExchangePage navigate={setPage} />}
          {page?.name === "inspector" && <InspectorPage />}
          {page?.name === "receiver" && <ReceiverPage />}
          {page?.name === "clients" && <ClientsPage onStatusChanged={onStatusChanged} />}
          {page?.name === "sandbox" && (
            <SandboxPage
              status={status}
              navigate={setPage}
              switchToSandbox={() => switchMode("sandbox")}
              switching={switching}
            />
          )}
          {page?.name === "audit" && <AuditPage />}
          {page?.name === "about" && <AboutPage dataDir={status?.data_dir ?? null} />}
        </main>
      </div>
    </div>
  );
}
