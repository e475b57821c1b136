import { useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { AppStatus } from "../bindings/AppStatus";
import type { CommandError } from "../bindings/CommandError";
import type { SavedServer } from "../bindings/SavedServer";
import { ErrorBox } from "../components/ErrorBox";
import { LinkState } from "../components/LinkState";

type Props = {
  status: AppStatus | null;
  /** A connection changed (signed in, connected, signed out): the app shows where it is now. */
  onConnected: (status: AppStatus, moved: boolean) => void;
};

/** The "Team server" place: sign in as staff in the system browser, saved servers, sign out. */
export function ServersPage({ status, onConnected }: Props) {
  const [servers, setServers] = useState<SavedServer[] | null>(null);
  const [url, setUrl] = useState("");
  const [waiting, setWaiting] = useState<string | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const server = status?.mode === "server" ? status.server : null;

  const load = useCallback(async () => {
    try {
      setServers(await call("servers_list", {}));
    } catch (e) {
      setError(toCommandError(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const run = async (what: () => Promise<AppStatus>, moved: boolean) => {
    setError(null);
    try {
      onConnected(await what(), moved);
    } catch (e) {
      setError(toCommandError(e));
      // A failed connection still puts the server in view, saying why.
      try {
        onConnected(await call("app_status", {}), false);
      } catch {
        /* the status error shows in the header */
      }
    } finally {
      setWaiting(null);
      void load();
    }
  };
  const signIn = (to: string) => {
    setWaiting(to);
    void run(() => call("server_sign_in", { url: to }), server?.url !== to);
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Team server</h1>
      </div>
      {server && (
        <section className="card" data-testid="server-in-view">
          <h2>In view</h2>
          <p>
            <span className="mono">{server.url}</span>
            {server.name && (
              <>
                {" "}
                as <strong data-testid="server-who">{server.name}</strong> ({server.role})
              </>
            )}
          </p>
          <LinkState link={server.link} />
          <ErrorBox error={server.error} />
          <div className="actions">
            {server.error && (
              <button type="button" className="primary" data-testid="server-sign-in-again" disabled={waiting !== null} onClick={() => signIn(server.url)}>
                Sign in
              </button>
            )}
            <button
              type="button"
              data-testid="server-sign-out"
              disabled={waiting !== null || server.from_env || server.error !== null}
              onClick={() => void run(() => call("server_sign_out", {}), true)}
            >
              Sign out
            </button>
            {server.from_env && (
              <span className="muted small" role="note">
                Opened with TOKENDESK_SERVER and TOKENDESK_TOKEN: an API token, not a session to sign out of.
              </span>
            )}
          </div>
        </section>
      )}
      <section className="card">
        <h2>Sign in to a team server</h2>
        <p className="muted small">
          The admin URL of a TokenDesk team server (its admin listener). Signing in opens your browser at the server's
          staff sign-in; the session is kept in this computer's keyring (the same one as{" "}
          <span className="mono">tokendesk --server URL login</span>).
        </p>
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (url.trim()) signIn(url.trim());
          }}
        >
          <label htmlFor="server-url">Admin URL</label>
          <input
            id="server-url"
            data-testid="server-url"
            className="mono"
            placeholder="https://tokendesk.example.com:8443"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            disabled={waiting !== null}
          />
          <button type="submit" className="primary" data-testid="server-sign-in" disabled={waiting !== null || !url.trim()}>
            Sign in
          </button>
        </form>
        {waiting && (
          <div className="warn-box" data-testid="server-waiting" role="status">
            Finish the sign-in in your browser ({waiting}).{" "}
            <button type="button" className="link-button" data-testid="server-sign-in-cancel" onClick={() => void call("server_sign_in_cancel", {})}>
              Cancel
            </button>
          </div>
        )}
        <ErrorBox error={error} onDismiss={() => setError(null)} />
      </section>
      <section className="card">
        <h2>Saved servers</h2>
        {servers !== null && servers.length === 0 && <p className="muted">None yet: sign in to one above.</p>}
        {servers !== null && servers.length > 0 && (
          <table className="table" data-testid="servers-list">
            <thead>
              <tr>
                <th scope="col">Server</th>
                <th scope="col">Last signed in as</th>
                <th scope="col">Session</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {servers.map((s) => (
                <tr key={s.url} data-testid="server-row">
                  <td className="mono">{s.url}</td>
                  <td>{s.last_signed_in_as ? `${s.last_signed_in_as} (${s.last_role ?? "?"})` : "—"}</td>
                  <td>{s.signed_in ? "kept in the keyring" : "signed out"}</td>
                  <td className="actions">
                    {s.signed_in ? (
                      <button
                        type="button"
                        data-testid="server-connect"
                        disabled={waiting !== null || (server?.url === s.url && server.error === null)}
                        onClick={() => void run(() => call("server_use", { url: s.url }), true)}
                        aria-label={`Connect to ${s.url}`}
                      >
                        Connect
                      </button>
                    ) : (
                      <button type="button" data-testid="server-row-sign-in" disabled={waiting !== null} onClick={() => signIn(s.url)} aria-label={`Sign in to ${s.url}`}>
                        Sign in
                      </button>
                    )}
                    <button
                      type="button"
                      data-testid="server-forget"
                      disabled={waiting !== null}
                      onClick={() =>
                        void call("server_forget", { url: s.url })
                          .then(async (list) => {
                            setServers(list);
                            onConnected(await call("app_status", {}), server?.url === s.url);
                          })
                          .catch((e: unknown) => setError(toCommandError(e)))
                      }
                      aria-label={`Forget ${s.url}`}
                    >
                      Forget
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
