import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef, useState } from "react";
import { call, toCommandError, useTauriEvent } from "../api";
import type { CommandError } from "../bindings/CommandError";
import type { RefreshAllReport } from "../bindings/RefreshAllReport";
import type { UserView } from "../bindings/UserView";
import { Badge, RefreshStateBadge } from "../components/Badge";
import { ErrorBox } from "../components/ErrorBox";
import { NeedsAttention } from "../components/NeedsAttention";
import { accessAtGlance } from "../format";
import { useDebounced, useNow } from "../hooks";
import type { Navigate } from "../nav";
import { RoleNote, useAllowed, useSession } from "../session";

export const USERS_PAGE_SIZE = 200;
export const USER_ROW_HEIGHT = 56;
const REFRESH_CONCURRENCY = 8;

type RefreshAllState = {
  running: boolean;
  cancelling: boolean;
  done: number;
  total: number;
  report: RefreshAllReport | null;
  error: CommandError | null;
};

const IDLE: RefreshAllState = { running: false, cancelling: false, done: 0, total: 0, report: null, error: null };

export function UsersPage({ navigate }: { navigate: Navigate }) {
  const refreshRefused = useAllowed("operator");
  const [search, setSearch] = useState("");
  const query = useDebounced(search.trim(), 150);
  const now = useNow(15_000);

  const [total, setTotal] = useState<number | null>(null);
  const [moreMatches, setMoreMatches] = useState(false);
  const [pages, setPages] = useState<Map<number, UserView[]>>(() => new Map());
  const [listError, setListError] = useState<CommandError | null>(null);
  const [reloadTick, setReloadTick] = useState(0);
  const generation = useRef(0);
  const inflight = useRef(new Set<number>());
  const failed = useRef(new Set<number>());
  const [shownQuery, setShownQuery] = useState<string | null>(null);
  const shownQueryRef = useRef<string | null>(null);

  const scrollRef = useRef<HTMLDivElement>(null);

  // A team server's live feed: a sign-in, a colleague's refresh... reloads the list in place.
  const { liveTick } = useSession();

  // The first page (and the count) whenever the search text settles, or after a reload. The
  // rows in view stay until the new ones come when only a reload asked (no blank flash).
  useEffect(() => {
    const gen = ++generation.current;
    inflight.current = new Set([0]);
    failed.current = new Set();
    if (shownQueryRef.current !== query) setPages(new Map());
    setListError(null);
    call("users_page", { search: query, offset: 0, limit: USERS_PAGE_SIZE })
      .then((p) => {
        if (gen !== generation.current) return;
        setTotal(query ? p.users.length : p.total);
        setMoreMatches(query !== "" && p.more_matches);
        setPages(new Map([[0, p.users]]));
        setShownQuery(query);
        shownQueryRef.current = query;
      })
      .catch((e: unknown) => {
        if (gen === generation.current) setListError(toCommandError(e));
      })
      .finally(() => {
        if (gen === generation.current) inflight.current.delete(0);
      });
  }, [query, reloadTick, liveTick]);

  // Back to the top when the search changes.
  useEffect(() => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
  }, [query]);

  const count = total ?? 0;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => USER_ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const firstIndex = items.length ? items[0].index : 0;
  const lastIndex = items.length ? items[items.length - 1].index : -1;

  // Without a search, fetch the pages of 200 that the visible rows fall in, lazily.
  useEffect(() => {
    if (query !== "" || total === null || lastIndex < 0) return;
    const gen = generation.current;
    const set = inflight.current;
    for (let pi = Math.floor(firstIndex / USERS_PAGE_SIZE); pi <= Math.floor(lastIndex / USERS_PAGE_SIZE); pi++) {
      if (pages.has(pi) || set.has(pi) || failed.current.has(pi)) continue;
      set.add(pi);
      const pageIndex = pi;
      call("users_page", { search: "", offset: pageIndex * USERS_PAGE_SIZE, limit: USERS_PAGE_SIZE })
        .then((p) => {
          if (gen !== generation.current) return;
          setPages((prev) => new Map(prev).set(pageIndex, p.users));
          setTotal(p.total);
        })
        .catch((e: unknown) => {
          if (gen !== generation.current) return;
          failed.current.add(pageIndex);
          setListError(toCommandError(e));
        })
        .finally(() => set.delete(pageIndex));
    }
  }, [query, total, firstIndex, lastIndex, pages]);

  const userAt = (index: number): UserView | undefined =>
    pages.get(Math.floor(index / USERS_PAGE_SIZE))?.[index % USERS_PAGE_SIZE];

  // ---- Refresh all ----
  const [ra, setRa] = useState<RefreshAllState>(IDLE);
  const running = useRef(false);
  useTauriEvent("refresh-progress", (p) => {
    if (!running.current) return;
    setRa((s) => ({ ...s, done: Math.max(s.done, p.done), total: p.total }));
  });

  const refreshAll = async () => {
    running.current = true;
    setRa({ ...IDLE, running: true });
    try {
      const report = await call("refresh_all", { concurrency: REFRESH_CONCURRENCY });
      setRa((s) => ({ ...s, running: false, cancelling: false, report }));
      setReloadTick((n) => n + 1);
    } catch (e) {
      setRa((s) => ({ ...s, running: false, cancelling: false, error: toCommandError(e) }));
    } finally {
      running.current = false;
    }
  };
  const cancelRefreshAll = async () => {
    setRa((s) => ({ ...s, cancelling: true }));
    try {
      await call("refresh_all_cancel", {});
    } catch (e) {
      setRa((s) => ({ ...s, cancelling: false, error: toCommandError(e) }));
    }
  };

  const failures = ra.report ? ra.report.outcomes.filter((o) => !o.ok) : [];

  // ---- Export ----
  const [exporting, setExporting] = useState(false);
  const [exported, setExported] = useState<string | null>(null);
  const [exportError, setExportError] = useState<CommandError | null>(null);
  const exportUsers = async (format: "csv" | "json") => {
    setExporting(true);
    setExported(null);
    setExportError(null);
    try {
      const saved = await call("users_export", { format });
      if (saved) setExported(`Exported every user (profiles and token health, no token) to ${saved.path}.`);
    } catch (e) {
      setExportError(toCommandError(e));
    } finally {
      setExporting(false);
    }
  };

  return (
    <div className="page users-page">
      <div className="page-head">
        <h1>Users</h1>
        <input
          type="search"
          className="search"
          placeholder="Search name, email or sub…"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          data-testid="users-search"
          id="users-search"
          aria-label="Search users"
          aria-keyshortcuts="/"
          autoFocus
        />
        <span className="muted" data-testid="users-count">
          {total === null
            ? "…"
            : shownQuery
              ? `${total.toLocaleString()} match${total === 1 ? "" : "es"}`
              : `${total.toLocaleString()} user${total === 1 ? "" : "s"}`}
        </span>
        {moreMatches && (
          <span className="badge badge-warn" data-testid="users-more-matches">
            more matches: refine the search
          </span>
        )}
        <span className="spacer" />
        <div className="action-group" role="group" aria-label="Export every user (no token)">
          {(["csv", "json"] as const).map((format) => (
            <button
              type="button"
              key={format}
              data-testid={`users-export-${format}`}
              disabled={exporting}
              onClick={() => void exportUsers(format)}
            >
              Export {format.toUpperCase()}…
            </button>
          ))}
        </div>
        <div className="action-group">
          <button type="button" data-testid="refresh-all" disabled={ra.running || refreshRefused !== null} onClick={() => void refreshAll()}>
            Refresh all
          </button>
          {ra.running && (
            <button
              type="button"
              data-testid="refresh-all-cancel"
              disabled={ra.cancelling}
              onClick={() => void cancelRefreshAll()}
            >
              {ra.cancelling ? "Cancelling…" : "Cancel"}
            </button>
          )}
          <RoleNote reason={refreshRefused} testId="refresh-all-role-note" />
        </div>
      </div>

      {exported && (
        <div className="ok-box" role="status" data-testid="users-exported">
          {exported}
        </div>
      )}
      <ErrorBox error={exportError} onDismiss={() => setExportError(null)} />

      {(ra.running || ra.report || ra.error) && (
        <div className="refresh-all-panel">
          {ra.running && (
            <div className="progress-line">
              <progress data-testid="refresh-progress" value={ra.done} max={ra.total || 1} />
              <span className="small">
                {ra.total ? `${ra.done.toLocaleString()} / ${ra.total.toLocaleString()}` : "starting…"}
              </span>
            </div>
          )}
          {ra.report && (
            <div className="report" data-testid="refresh-all-report">
              Refreshed <strong>{ra.report.refreshed}</strong> of {ra.report.total}; failed{" "}
              <strong>{ra.report.failed}</strong>; skipped <strong>{ra.report.skipped}</strong>.
              {failures.length > 0 && (
                <details>
                  <summary>Failures ({failures.length})</summary>
                  <ul className="small">
                    {failures.slice(0, 100).map((o) => (
                      <li key={o.sub}>
                        <span className="mono">{o.email ?? o.sub}</span>: {o.error ?? "failed"}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
            </div>
          )}
          <ErrorBox error={ra.error} onDismiss={() => setRa((s) => ({ ...s, error: null }))} />
        </div>
      )}

      <NeedsAttention navigate={navigate} onSwept={() => setReloadTick((n) => n + 1)} />

      {listError && (
        <div>
          <ErrorBox error={listError} />
          <button
            type="button"
            onClick={() => {
              setReloadTick((n) => n + 1);
            }}
          >
            Retry
          </button>
        </div>
      )}

      <div className="users-header-row small muted" aria-hidden="true">
        <span>Name / email</span>
        <span>sub</span>
        <span>Access token</span>
        <span>Refresh token</span>
      </div>
      <div className="users-scroll" ref={scrollRef} data-testid="users-list">
        {total === 0 && !listError && (
          <div className="empty muted">{shownQuery ? "No user matches." : "No users yet."}</div>
        )}
        <div className="users-inner" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const u = userAt(item.index);
            return (
              <div
                key={item.key}
                className="users-slot"
                style={{ height: item.size, transform: `translateY(${item.start}px)` }}
              >
                {u ? (
                  <UserRow user={u} now={now} onOpen={() => navigate({ name: "user", sub: u.sub })} />
                ) : (
                  <div className="user-row loading muted small">loading…</div>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

function UserRow({ user, now, onOpen }: { user: UserView; now: number; onOpen: () => void }) {
  const expiry = accessAtGlance(user, now);
  return (
    <div
      className="user-row"
      role="button"
      tabIndex={0}
      data-testid="user-row"
      data-sub={user.sub}
      onClick={onOpen}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onOpen();
        }
      }}
    >
      <div className="cell-name">
        <div className="name ellipsis" data-testid="user-row-name">
          {user.name ?? <span className="muted">(no name)</span>}
        </div>
        <div className="email ellipsis small" data-testid="user-row-email">
          {user.email ?? ""}
        </div>
      </div>
      <div className="cell-sub mono small ellipsis" data-testid="user-row-sub">
        {user.sub}
      </div>
      <div className={`cell-expiry small ${expiry === "expired" || expiry === "revoked" ? "text-bad" : ""}`} data-testid="user-row-expiry">
        {expiry}
      </div>
      <div className="cell-badges">
        <RefreshStateBadge
          state={user.refresh_token}
          testId="user-row-refresh"
          title={user.refresh_token_invalid_reason ?? undefined}
        />
        {!user.has_drive_appdata && (
          <Badge tone="warn" testId="user-row-no-drive">
            no drive.appdata
          </Badge>
        )}
      </div>
    </div>
  );
}
