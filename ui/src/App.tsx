import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { call, toCommandError, useTauriEvent } from "./api";
import type { AppStatus } from "./bindings/AppStatus";
import type { CommandError } from "./bindings/CommandError";
import { CommandPalette, type PaletteEntry } from "./components/CommandPalette";
import { ErrorBox } from "./components/ErrorBox";
import { LinkState } from "./components/LinkState";
import { ShortcutsHelp } from "./components/ShortcutsHelp";
import { isPaletteKey, isTyping } from "./keys";
import { NAV, type Page } from "./nav";
import { AboutPage } from "./pages/AboutPage";
import { AuditPage } from "./pages/AuditPage";
import { ClientsPage } from "./pages/ClientsPage";
import { ExchangePage } from "./pages/ExchangePage";
import { InspectorPage } from "./pages/InspectorPage";
import { LabPage } from "./pages/LabPage";
import { ReceiverPage } from "./pages/ReceiverPage";
import { SandboxPage } from "./pages/SandboxPage";
import { ServersPage } from "./pages/ServersPage";
import { SettingsPage } from "./pages/SettingsPage";
import { UserPage } from "./pages/UserPage";
import { UsersPage } from "./pages/UsersPage";
import { type LiveAbout, type Session, SessionProvider } from "./session";

/** How the header names the place in view. */
function placeLabel(status: AppStatus): string {
  if (status.mode === "sandbox") return "Sandbox";
  if (status.mode === "server") return "Team server";
  return "Live";
}

/** The users search box, wherever the Users page put it. */
function focusUsersSearch(): boolean {
  const search = document.getElementById("users-search");
  if (search instanceof HTMLInputElement) {
    search.focus();
    search.select();
    return true;
  }
  return false;
}

/** The enabled buttons of the page in view (and the header's), as palette entries. */
function pageActions(): PaletteEntry[] {
  const seen = new Set<string>();
  const entries: PaletteEntry[] = [];
  document.querySelectorAll<HTMLButtonElement>(".header button, main button").forEach((b, i) => {
    if (b.disabled || b.closest("[aria-hidden='true']")) return;
    const label = (b.getAttribute("aria-label") ?? b.textContent ?? "").replace(/\s+/g, " ").trim();
    if (!label || seen.has(label)) return;
    seen.add(label);
    entries.push({ id: `action-${i}`, label, hint: "on this page", run: () => b.click() });
  });
  return entries;
}

export function App() {
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [statusError, setStatusError] = useState<CommandError | null>(null);
  const [page, setPage] = useState<Page | null>(null);
  const [switching, setSwitching] = useState(false);
  const [modeError, setModeError] = useState<CommandError | null>(null);
  // Bumped whenever the store in view changes, so pages reload their data.
  const [epoch, setEpoch] = useState(0);
  const [palette, setPalette] = useState<PaletteEntry[] | null>(null);
  const [help, setHelp] = useState(false);
  // Set by `/` from another page: the Users page focuses its search once it is there.
  const [searchWanted, setSearchWanted] = useState(0);
  // Bumped by the team server's live feed (a new audit entry): pages reload in place.
  const [liveTick, setLiveTick] = useState(0);
  const [liveAbout, setLiveAbout] = useState<LiveAbout>({ subs: [], other: false });
  const tickTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  // What the entries since the last tick were about, gathered until the tick fires.
  const gathered = useRef<{ subs: Set<string>; other: boolean }>({ subs: new Set(), other: false });

  useTauriEvent("live", (event) => {
    // A feed that comes (back) online missed what was written before its stream opened (a
    // colleague's revoke between the sign-in and the feed's start): every page reloads once.
    const shown = status?.server;
    const cameOnline =
      shown?.url === event.server && event.link.state === "online" && shown.link.state !== "online";
    if (cameOnline) gathered.current.other = true;
    setStatus((s) => {
      if (!s?.server || s.server.url !== event.server) return s;
      // Most events only bring an entry: the same link leaves the header (and every page
      // reading the session) alone.
      if (JSON.stringify(s.server.link) === JSON.stringify(event.link)) return s;
      return { ...s, server: { ...s.server, link: event.link } };
    });
    if (event.entry) {
      if (event.entry.user_sub) gathered.current.subs.add(event.entry.user_sub);
      else gathered.current.other = true;
    }
    if ((event.entry || cameOnline) && tickTimer.current === null) {
      // A burst of entries (a refresh of every user) reloads the page once per quarter second.
      tickTimer.current = setTimeout(() => {
        tickTimer.current = null;
        const about = gathered.current;
        gathered.current = { subs: new Set(), other: false };
        setLiveAbout({ subs: [...about.subs], other: about.other });
        setLiveTick((n) => n + 1);
      }, 250);
    }
  });
  useEffect(
    () => () => {
      if (tickTimer.current !== null) clearTimeout(tickTimer.current);
    },
    [],
  );

  useEffect(() => {
    if (searchWanted === 0) return;
    const id = setTimeout(() => focusUsersSearch(), 0);
    return () => clearTimeout(id);
  }, [searchWanted, page]);

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
  const server = status?.mode === "server" ? status.server : null;

  /** A connection changed on the Team server page; `moved`: another place, pages start over. */
  const onConnected = useCallback((s: AppStatus, moved: boolean) => {
    setStatus(s);
    setStatusError(null);
    if (moved) {
      setEpoch((n) => n + 1);
      if (s.mode === "server" && s.server?.error === null) setPage({ name: "users" });
    }
  }, []);

  const serverUrl = server?.url ?? null;
  const session: Session = useMemo(
    () => ({
      server,
      liveTick,
      liveAbout,
      signInAgain:
        serverUrl === null
          ? null
          : async () => {
              // The page stays: the person goes on where they were.
              const s = await call("server_sign_in", { url: serverUrl });
              setStatus(s);
            },
    }),
    [server, serverUrl, liveTick, liveAbout],
  );

  const openPalette = useCallback(() => {
    setHelp(false);
    const pages: PaletteEntry[] = NAV.map((n) => ({
      id: `page-${n.name}`,
      label: `Go to ${n.label}`,
      hint: "page",
      run: () => setPage({ name: n.name } as Page),
    }));
    const more: PaletteEntry[] = [
      {
        id: "search-users",
        label: "Search users",
        hint: "/",
        run: () => {
          setPage((p) => (p?.name === "users" ? p : { name: "users" }));
          setSearchWanted((n) => n + 1);
        },
      },
      { id: "shortcuts", label: "Keyboard shortcuts", hint: "?", run: () => setHelp(true) },
    ];
    setPalette([...pages, ...more, ...pageActions()]);
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isPaletteKey(e)) {
        e.preventDefault();
        openPalette();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target) || palette || help) return;
      if (e.key === "/") {
        e.preventDefault();
        if (!focusUsersSearch()) {
          setPage({ name: "users" });
          setSearchWanted((n) => n + 1);
        }
      } else if (e.key === "?") {
        e.preventDefault();
        setHelp(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [openPalette, palette, help]);

  return (
    <div className="app">
      <header className="header">
        <div className="brand">TokenDesk</div>
        <div className="mode-area">
          <button type="button" data-testid="open-palette" onClick={openPalette} aria-keyshortcuts="Control+K Meta+K">
            Commands <kbd>Ctrl+K</kbd>
          </button>
          <button type="button" data-testid="open-shortcuts" onClick={() => setHelp(true)} aria-keyshortcuts="?">
            Shortcuts <kbd>?</kbd>
          </button>
          {status && (
            <span className={`mode mode-${status.mode}`} data-testid="mode">
              {placeLabel(status)}
            </span>
          )}
          {status && !server && <span className="muted small mono data-dir" title="Data directory">{status.data_dir}</span>}
          {server && (
            <span className="small where" data-testid="server-where" title="Team server">
              <span className="mono">{server.url}</span>
              {server.name ? ` as ${server.name} (${server.role})` : " (not signed in)"}{" "}
              <LinkState link={server.link} testId="header-link" />
            </span>
          )}
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
          <button type="button" data-testid="use-server" onClick={() => setPage({ name: "servers" })}>
            Team server…
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
      {server?.error && page?.name !== "servers" && (
        <div className="banner" data-testid="server-error">
          <div className="banner-title">The team server {server.url} is not available</div>
          <ErrorBox error={server.error} />
          <button type="button" data-testid="server-error-open" onClick={() => setPage({ name: "servers" })}>
            Open the Team server page
          </button>
        </div>
      )}
      {statusError && (
        <div className="banner">
          <ErrorBox error={statusError} />
        </div>
      )}
      <div className="body">
        <nav className="nav" aria-label="Pages">
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
        <SessionProvider value={session}>
        <main className="main" key={epoch}>
          {page === null && <div className="muted">Loading…</div>}
          {page?.name === "users" && <UsersPage navigate={setPage} />}
          {page?.name === "user" && <UserPage key={page.sub} sub={page.sub} navigate={setPage} />}
          {page?.name === "exchange" && <ExchangePage navigate={setPage} />}
          {page?.name === "lab" && <LabPage navigate={setPage} />}
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
          {page?.name === "servers" && <ServersPage status={status} onConnected={onConnected} />}
          {page?.name === "audit" && <AuditPage />}
          {page?.name === "settings" && <SettingsPage />}
          {page?.name === "about" && <AboutPage dataDir={status?.data_dir ?? null} />}
        </main>
        </SessionProvider>
      </div>
      {palette && <CommandPalette entries={palette} onClose={() => setPalette(null)} />}
      {help && <ShortcutsHelp onClose={() => setHelp(false)} />}
    </div>
  );
}
