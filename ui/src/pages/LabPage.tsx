import { useState } from "react";
import { call, useTauriEvent } from "../api";
import type { AccessType } from "../bindings/AccessType";
import type { LabEvent } from "../bindings/LabEvent";
import type { LabStep } from "../bindings/LabStep";
import type { Prompt } from "../bindings/Prompt";
import { RefreshStateBadge } from "../components/Badge";
import { ChecksTable } from "../components/ChecksTable";
import { ClientPicker, useChosenClient } from "../components/ClientPicker";
import { ErrorBox } from "../components/ErrorBox";
import { RawExchangeView } from "../components/RawExchangeView";
import { useAction } from "../hooks";
import type { Navigate } from "../nav";

const DEFAULT_SCOPES = "openid email profile drive.appdata";
const PROMPTS: Prompt[] = ["none", "consent", "select_account"];

const TITLES: Record<LabStep, string> = {
  authorization_url: "Authorization URL",
  redirected: "Redirect",
  exchanged: "Exchange",
  verified: "Verification",
  stored: "Stored user",
};

/** One step of the lab as it happened. */
function StepView({ event, navigate }: { event: LabEvent; navigate: Navigate }) {
  switch (event.step) {
    case "authorization_url":
      return (
        <>
          <h3>1. {TITLES.authorization_url}</h3>
          <div className="hint">
            Client <span className="mono">{event.client}</span> ({event.client_id}); redirect_uri{" "}
            <span className="mono">{event.redirect_uri}</span>. Opened in your browser: sign in there.
          </div>
          <div className="mono wrap small" data-testid="lab-url">
            {event.url}
          </div>
        </>
      );
    case "redirected":
      return (
        <>
          <h3>2. {TITLES.redirected}</h3>
          <div>
            Code <span className="mono">{event.code}</span>, state {event.state_ok ? "matches" : "does NOT match"}.
          </div>
          <div className="hint">Granted: {event.scope ?? "-"}</div>
        </>
      );
    case "exchanged":
      return (
        <>
          <h3>3. {TITLES.exchanged} (secrets masked)</h3>
          <div data-testid="lab-refresh-token">Refresh token: {event.refresh_token ? "yes" : "no"}</div>
          {event.notes.length > 0 && (
            <ul className="notes" data-testid="lab-notes">
              {event.notes.map((n, i) => (
                <li key={i}>{n}</li>
              ))}
            </ul>
          )}
          {event.raw.map((r, i) => (
            <RawExchangeView key={i} exchange={r} />
          ))}
        </>
      );
    case "verified":
      return (
        <>
          <h3>4. {TITLES.verified}: {event.valid ? "valid" : "NOT valid"}</h3>
          <ChecksTable checks={event.checks} rowTestId="lab-check" />
        </>
      );
    case "stored":
      return (
        <>
          <h3>5. {TITLES.stored}</h3>
          <div className="exchange-user">
            <button
              type="button"
              className="link-button"
              data-testid="lab-open-user"
              onClick={() => navigate({ name: "user", sub: event.user.sub })}
            >
              {event.user.name ?? event.user.email ?? event.user.sub}
            </button>{" "}
            <span className="muted">{event.user.email ?? ""}</span>{" "}
            <RefreshStateBadge state={event.user.refresh_token} />{" "}
            <span className="small">drive.appdata {event.user.has_drive_appdata ? "granted" : "NOT granted"}</span>
          </div>
        </>
      );
    case "failed":
      return (
        <div role="alert" data-testid="lab-failed">
          <h3>
            Failed at the {TITLES[event.at].toLowerCase()} <span className="mono small">({event.code})</span>
          </h3>
          <div data-testid="lab-failed-message">{event.message}</div>
          <div data-testid="lab-advice">
            <strong>What to change:</strong> {event.advice}
          </div>
        </div>
      );
  }
}

/**
 * The sign-in lab: a client's authorization-code flow in the system browser (loopback
 * redirect, PKCE) with the parameters a developer tests, each step shown as it happens.
 */
export function LabPage({ navigate }: { navigate: Navigate }) {
  const chosen = useChosenClient();
  const { client } = chosen;
  const [scopes, setScopes] = useState(DEFAULT_SCOPES);
  const [accessType, setAccessType] = useState<AccessType>("offline");
  const [prompt, setPrompt] = useState<Prompt[]>([]);
  const [includeGranted, setIncludeGranted] = useState(false);
  const [loginHint, setLoginHint] = useState("");
  const [hd, setHd] = useState("");
  const [port, setPort] = useState("");
  const [steps, setSteps] = useState<LabEvent[]>([]);
  const { busy, error, run: act } = useAction();


  useTauriEvent("lab-step", (event) => {
    setSteps((s) => [...s, event]);
  });

  const togglePrompt = (p: Prompt) =>
    setPrompt((now) => (now.includes(p) ? now.filter((x) => x !== p) : [...now, p]));

  const portNumber = port.trim() === "" ? null : Number(port);
  const portValid = portNumber === null || (Number.isInteger(portNumber) && portNumber > 0 && portNumber < 65536);

  const run = () =>
    act(async () => {
      setSteps([]);
      const report = await call("lab_run", {
        request: {
          client: client || null,
          scopes: scopes.split(/[\s,]+/).filter((s) => s !== ""),
          access_type: accessType,
          prompt,
          include_granted_scopes: includeGranted,
          login_hint: loginHint.trim() || null,
          hd: hd.trim() || null,
          port: portNumber,
        },
      });
      // The report is the whole run: what the events showed, in order, nothing missed.
      setSteps(report.steps);
    });

  return (
    <div className="page">
      <div className="page-head">
        <h1>Sign-in lab</h1>
      </div>
      <section className="card form">
        <ClientPicker chosen={chosen} testId="lab-client" />
        <label>
          <span>Scopes</span>
          <input
            type="text"
            className="mono"
            value={scopes}
            onChange={(e) => setScopes(e.target.value)}
            data-testid="lab-scopes"
            spellCheck={false}
          />
        </label>
        <div className="hint">
          Short names (<span className="mono">drive.appdata</span>) or full scope URLs, separated by spaces.
        </div>
        <label>
          <span>access_type</span>
          <select
            value={accessType}
            onChange={(e) => setAccessType(e.target.value as AccessType)}
            data-testid="lab-access-type"
          >
            <option value="offline">offline (a refresh token)</option>
            <option value="online">online</option>
          </select>
        </label>
        <fieldset className="lab-prompt">
          <legend>prompt</legend>
          {PROMPTS.map((p) => (
            <label key={p}>
              <input
                type="checkbox"
                checked={prompt.includes(p)}
                onChange={() => togglePrompt(p)}
                data-testid={`lab-prompt-${p}`}
              />{" "}
              {p}
            </label>
          ))}
        </fieldset>
        <label className="lab-check">
          <input
            type="checkbox"
            checked={includeGranted}
            onChange={(e) => setIncludeGranted(e.target.checked)}
            data-testid="lab-include-granted"
          />{" "}
          include_granted_scopes
        </label>
        <label>
          <span>login_hint</span>
          <input
            type="email"
            value={loginHint}
            onChange={(e) => setLoginHint(e.target.value)}
            data-testid="lab-login-hint"
            placeholder="ada@example.com"
          />
        </label>
        <label>
          <span>hd</span>
          <input
            type="text"
            value={hd}
            onChange={(e) => setHd(e.target.value)}
            data-testid="lab-hd"
            placeholder="example.com"
          />
        </label>
        <label>
          <span>Loopback port</span>
          <input
            type="text"
            inputMode="numeric"
            value={port}
            onChange={(e) => setPort(e.target.value)}
            data-testid="lab-port"
            placeholder="any free port"
          />
        </label>
        <div className="hint">
          A Web client redirects only to the URIs registered for it: register{" "}
          <span className="mono">http://127.0.0.1:PORT/</span> with the client and give that port. The sandbox registers
          one for you.
        </div>
        <div className="actions">
          <button
            type="button"
            className="primary"
            data-testid="lab-run"
            disabled={busy || !portValid}
            onClick={() => void run()}
          >
            {busy ? "Waiting for the browser…" : "Sign in in the browser"}
          </button>
          {busy && (
            <button type="button" data-testid="lab-cancel" onClick={() => void call("lab_cancel", {})}>
              Cancel
            </button>
          )}
        </div>
        <ErrorBox error={error} />
      </section>

      {steps.length > 0 && (
        <section className="card" data-testid="lab-steps" aria-live="polite">
          <h2>Steps</h2>
          <ol className="lab-steps">
            {steps.map((s, i) => (
              <li key={i} data-testid="lab-step" data-step={s.step}>
                <StepView event={s} navigate={navigate} />
              </li>
            ))}
          </ol>
        </section>
      )}
    </div>
  );
}
