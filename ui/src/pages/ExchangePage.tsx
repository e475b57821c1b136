import { useState } from "react";
import { call } from "../api";
import type { ExchangeReport } from "../bindings/ExchangeReport";
import { RefreshStateBadge } from "../components/Badge";
import { ClientPicker, useChosenClient } from "../components/ClientPicker";
import { ErrorBox } from "../components/ErrorBox";
import { RawExchangeView } from "../components/RawExchangeView";
import { useAction } from "../hooks";
import type { Navigate } from "../nav";
import { RoleNote, useAllowed } from "../session";

export function ExchangePage({ navigate }: { navigate: Navigate }) {
  const refused = useAllowed("operator");
  const chosen = useChosenClient();
  const { client } = chosen;
  const [redirect, setRedirect] = useState("");
  const [code, setCode] = useState("");
  const [report, setReport] = useState<ExchangeReport | null>(null);
  const { busy, error, run: act } = useAction();


  const run = () =>
    act(async () => {
      setReport(null);
      const r = await call("exchange_code", { code: code.trim(), client: client || null, redirect });
      setReport(r);
      setCode(""); // a code is single-use: it is spent now
    });

  return (
    <div className="page">
      <div className="page-head">
        <h1>Exchange a code</h1>
      </div>
      <section className="card form">
        <ClientPicker chosen={chosen} testId="exchange-client" />
        <label>
          <span>redirect_uri</span>
          <input
            type="text"
            className="mono"
            value={redirect}
            onChange={(e) => setRedirect(e.target.value)}
            data-testid="exchange-redirect"
            placeholder="(empty)"
            spellCheck={false}
          />
        </label>
        <div className="hint">
          Empty for an iOS/Android <span className="mono">serverAuthCode</span>; <span className="mono">postmessage</span>{" "}
          for a code from a web popup (Google Identity Services); otherwise the exact redirect URL the code was issued for.
        </div>
        <label>
          <span>Authorization code</span>
          <textarea
            className="mono"
            rows={3}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            data-testid="exchange-code"
            placeholder="4/0A…"
            spellCheck={false}
            autoComplete="off"
          />
        </label>
        <div className="hint">A code can be exchanged only once.</div>
        <div className="actions">
          <button
            type="button"
            className="primary"
            data-testid="exchange-run"
            disabled={busy || code.trim() === "" || refused !== null}
            onClick={() => void run()}
          >
            {busy ? "Exchanging…" : "Run"}
          </button>
          <RoleNote reason={refused} testId="exchange-role-note" />
        </div>
        <ErrorBox error={error} rawTestId="exchange-raw" />
      </section>

      {report && (
        <section className="card" data-testid="exchange-result">
          <h2>Exchanged and stored</h2>
          <div className="exchange-user">
            <button
              type="button"
              className="link-button"
              data-testid="exchange-open-user"
              onClick={() => navigate({ name: "user", sub: report.user.sub })}
            >
              {report.user.name ?? report.user.email ?? report.user.sub}
            </button>{" "}
            <span className="muted">{report.user.email ?? ""}</span>{" "}
            <span className="mono small">{report.user.sub}</span>{" "}
            <RefreshStateBadge state={report.user.refresh_token} />
          </div>
          {report.notes.length > 0 && (
            <ul className="notes" data-testid="exchange-notes">
              {report.notes.map((n, i) => (
                <li key={i}>{n}</li>
              ))}
            </ul>
          )}
          <h3>Raw exchange (secrets masked)</h3>
          <div data-testid="exchange-raw">
            {report.raw.map((r, i) => (
              <RawExchangeView key={i} exchange={r} />
            ))}
          </div>
        </section>
      )}
    </div>
  );
}
