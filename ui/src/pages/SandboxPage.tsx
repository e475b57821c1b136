import { useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { AppStatus } from "../bindings/AppStatus";
import type { CommandError } from "../bindings/CommandError";
import type { SandboxUser } from "../bindings/SandboxUser";
import type { SignInReport } from "../bindings/SignInReport";
import { ErrorBox } from "../components/ErrorBox";
import { JsonBlock } from "../components/JsonBlock";
import type { Navigate } from "../nav";

type Props = {
  status: AppStatus | null;
  navigate: Navigate;
  switchToSandbox: () => Promise<CommandError | null>;
  switching: boolean;
};

export function SandboxPage({ status, navigate, switchToSandbox, switching }: Props) {
  const [switchError, setSwitchError] = useState<CommandError | null>(null);
  if (status?.mode !== "sandbox") {
    return (
      <div className="page">
        <div className="page-head">
          <h1>Sandbox</h1>
        </div>
        <section className="card">
          <p>
            The sandbox runs the whole sign-in flow offline against TokenDesk's built-in Google emulator, with its own
            store: test users, codes minted like an iOS app's <span className="mono">serverAuthCode</span>, the receiver,
            the exchange, Drive. Nothing touches Google or your own users.
          </p>
          <button
            type="button"
            className="primary"
            data-testid="sandbox-switch"
            disabled={switching}
            onClick={() => {
              setSwitchError(null);
              void switchToSandbox().then(setSwitchError);
            }}
          >
            Switch to the sandbox
          </button>
          <ErrorBox error={switchError} onDismiss={() => setSwitchError(null)} />
        </section>
      </div>
    );
  }
  return <SandboxInView emulatorUrl={status.emulator_url} navigate={navigate} />;
}

function SandboxInView({ emulatorUrl, navigate }: { emulatorUrl: string | null; navigate: Navigate }) {
  const [users, setUsers] = useState<SandboxUser[] | null>(null);
  const [listError, setListError] = useState<CommandError | null>(null);
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [adding, setAdding] = useState(false);
  const [addError, setAddError] = useState<CommandError | null>(null);
  const [signingIn, setSigningIn] = useState<string | null>(null);
  const [result, setResult] = useState<{ email: string; report: SignInReport } | null>(null);
  const [signInError, setSignInError] = useState<{ email: string; error: CommandError } | null>(null);

  const reload = useCallback(async () => {
    try {
      setUsers(await call("sandbox_users", {}));
      setListError(null);
    } catch (e) {
      setListError(toCommandError(e));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);

  const add = async () => {
    setAdding(true);
    setAddError(null);
    try {
      await call("sandbox_add_user", {
        user: { email: email.trim(), name: name.trim() || null, given_name: null, family_name: null, locale: null },
      });
      setEmail("");
      setName("");
      await reload();
    } catch (e) {
      setAddError(toCommandError(e));
    } finally {
      setAdding(false);
    }
  };

  const signIn = async (userEmail: string) => {
    setSigningIn(userEmail);
    setResult(null);
    setSignInError(null);
    try {
      setResult({ email: userEmail, report: await call("sandbox_sign_in", { email: userEmail }) });
    } catch (e) {
      setSignInError({ email: userEmail, error: toCommandError(e) });
    } finally {
      setSigningIn(null);
    }
  };

  const body = result?.report.body;
  const resultSub =
    body && typeof body === "object" && !Array.isArray(body) && typeof body.sub === "string" ? body.sub : null;

  return (
    <div className="page">
      <div className="page-head">
        <h1>Sandbox</h1>
        <span className="muted small">
          Emulator:{" "}
          <span className="mono" data-testid="sandbox-emulator-url">
            {emulatorUrl ?? "(not running)"}
          </span>
        </span>
      </div>

      <section className="card">
        <h2>Test users</h2>
        <ErrorBox error={listError} />
        <table className="table">
          <thead>
            <tr>
              <th>Email</th>
              <th>Name</th>
              <th>sub</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users?.map((u) => (
              <tr key={u.sub} data-testid="sandbox-user" data-email={u.email}>
                <td>{u.email}</td>
                <td>{u.name}</td>
                <td className="mono small">{u.sub}</td>
                <td className="nowrap">
                  <button
                    type="button"
                    data-testid="sandbox-sign-in"
                    disabled={signingIn !== null}
                    onClick={() => void signIn(u.email)}
                  >
                    {signingIn === u.email ? "Signing in…" : "Simulate an iOS sign-in"}
                  </button>
                  {signInError?.email === u.email && (
                    <ErrorBox error={signInError.error} onDismiss={() => setSignInError(null)} />
                  )}
                </td>
              </tr>
            ))}
            {users?.length === 0 && (
              <tr>
                <td colSpan={4} className="muted">
                  No test user yet: add one below.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        <div className="inline-form">
          <label>
            <span>Email</span>
            <input
              type="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              data-testid="sandbox-email"
              placeholder="ada@example.com"
            />
          </label>
          <label>
            <span>Name</span>
            <input type="text" value={name} onChange={(e) => setName(e.target.value)} data-testid="sandbox-name" placeholder="Ada Lovelace" />
          </label>
          <button
            type="button"
            data-testid="sandbox-add"
            disabled={adding || email.trim() === ""}
            onClick={() => void add()}
          >
            Add test user
          </button>
        </div>
        <ErrorBox error={addError} onDismiss={() => setAddError(null)} />
      </section>

      {result && (
        <section className="card" data-testid="sandbox-result">
          <h2>
            Simulated sign-in of {result.email}:{" "}
            <span className={result.report.status >= 400 ? "text-bad" : "text-ok"} data-testid="sandbox-result-status">
              HTTP {result.report.status}
            </span>
          </h2>
          <ol className="steps small">
            <li>
              The emulator minted a one-time code for this user, as GIDSignIn hands an iOS app its{" "}
              <span className="mono">serverAuthCode</span>.
            </li>
            <li>
              The "app" POSTed it to the receiver at <span className="mono">{result.report.receiver_url}</span> (
              <span className="mono">POST /auth/code</span> with <span className="mono">X-Requested-With</span>).
            </li>
            <li>The receiver exchanged the code at the emulator's token endpoint (redirect_uri empty).</li>
            <li>The ID token was verified (signature, iss, aud, azp, exp/iat, sub).</li>
            <li>The refresh token went to the keyring, never to disk or this page.</li>
            <li>The user was stored and the exchange audited; the receiver answered with the profile, never tokens.</li>
          </ol>
          <h3>Receiver's answer</h3>
          <JsonBlock value={result.report.body} testId="sandbox-result-body" />
          {resultSub && (
            <button
              type="button"
              className="link-button"
              data-testid="sandbox-open-user"
              onClick={() => navigate({ name: "user", sub: resultSub })}
            >
              Open this user's page →
            </button>
          )}
        </section>
      )}
    </div>
  );
}
