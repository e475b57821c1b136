import { useState } from "react";
import { call } from "../api";
import type { InspectReport } from "../bindings/InspectReport";
import type { Inspection } from "../bindings/Inspection";
import type { TokenInfo } from "../bindings/TokenInfo";
import { Badge } from "../components/Badge";
import { ChecksTable } from "../components/ChecksTable";
import { ClaimsTable } from "../components/ClaimsTable";
import { ErrorBox } from "../components/ErrorBox";
import { JsonBlock } from "../components/JsonBlock";
import { unixToLocal } from "../format";
import { useAction, useClients } from "../hooks";

export function InspectorPage() {
  const { clients } = useClients();
  const [token, setToken] = useState("");
  const [client, setClient] = useState("");
  const [report, setReport] = useState<InspectReport | null>(null);
  const { busy, error, run: act } = useAction();

  const run = () =>
    act(async () => {
      setReport(null);
      setReport(await call("inspect_token", { token: token.trim(), client: client || null }));
    });

  return (
    <div className="page">
      <div className="page-head">
        <h1>Inspector</h1>
      </div>
      <section className="card form">
        <label>
          <span>JWT or access token</span>
          <textarea
            className="mono"
            rows={5}
            value={token}
            onChange={(e) => setToken(e.target.value)}
            data-testid="inspect-input"
            spellCheck={false}
            autoComplete="off"
            placeholder="eyJhbGciOi… or ya29.…"
          />
        </label>
        <label>
          <span>Verify for client</span>
          <select value={client} onChange={(e) => setClient(e.target.value)} data-testid="inspect-client">
            <option value="">(default)</option>
            {clients?.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <div className="hint">
          A JWT is decoded (unverified) and then checked exactly as a stored ID token would be; anything else is asked
          to the provider's tokeninfo as an access token.
        </div>
        <div className="actions">
          <button
            type="button"
            className="primary"
            data-testid="inspect-run"
            disabled={busy || token.trim() === ""}
            onClick={() => void run()}
          >
            {busy ? "Inspecting…" : "Run"}
          </button>
        </div>
        <ErrorBox error={error} />
      </section>
      {report && (
        <section className="card" data-testid="inspect-result" data-kind={report.kind}>
          {report.kind === "jwt" ? <JwtView ins={report} /> : <TokenInfoView info={report} />}
        </section>
      )}
    </div>
  );
}

function JwtView({ ins }: { ins: Inspection }) {
  return (
    <>
      <h2>
        JWT{" "}
        <span data-testid="inspect-valid" data-valid={String(ins.valid)}>
          {ins.valid ? (
            <Badge tone="ok">valid</Badge>
          ) : (
            <Badge tone="bad">invalid</Badge>
          )}
        </span>
      </h2>
      {ins.error && (
        <div className="error-box" data-testid="inspect-error">
          <span className="error-code mono">{ins.error.code}</span> <span>{ins.error.message}</span>
        </div>
      )}
      <h3>Checks</h3>
      <ChecksTable checks={ins.checks} rowTestId="inspect-check" />
      <div className="two-col">
        <div>
          <h3>Header</h3>
          {ins.header === null ? <div className="muted">could not be decoded</div> : <JsonBlock value={ins.header} testId="inspect-header" />}
        </div>
        <div>
          <h3>Claims (unverified decode)</h3>
          {ins.claims === null ? (
            <div className="muted">could not be decoded</div>
          ) : (
            <>
              <ClaimsTable claims={ins.claims} testId="inspect-claims-table" />
              <details>
                <summary>JSON</summary>
                <JsonBlock value={ins.claims} testId="inspect-claims" />
              </details>
            </>
          )}
        </div>
      </div>
    </>
  );
}

function TokenInfoView({ info }: { info: TokenInfo }) {
  const rows: [string, string][] = [
    ["aud", info.aud ?? ""],
    ["azp", info.azp ?? ""],
    ["sub", info.sub ?? ""],
    ["email", info.email ?? ""],
    ["email verified", info.emailVerified === null ? "" : String(info.emailVerified)],
    ["exp", info.exp === null ? "" : `${info.exp} (${unixToLocal(info.exp) ?? ""})`],
    ["expires in", info.expiresIn === null ? "" : `${info.expiresIn} s`],
    ["access type", info.accessType ?? ""],
  ];
  return (
    <>
      <h2>Access token (tokeninfo)</h2>
      <table className="kv" data-testid="inspect-tokeninfo">
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td className="mono wrap">{v}</td>
            </tr>
          ))}
          <tr>
            <th>scopes</th>
            <td>
              <ul className="scopes mono small">
                {info.scopes.map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            </td>
          </tr>
        </tbody>
      </table>
    </>
  );
}
