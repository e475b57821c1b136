import { useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { AppStatus } from "../bindings/AppStatus";
import type { CommandError } from "../bindings/CommandError";
import type { NewSandboxUser } from "../bindings/NewSandboxUser";
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

/** The test user of the one-click start. */
export const ADA: NewSandboxUser = {
  email: "ada@example.com",
  name: "Ada Lovelace",
  given_name: "Ada",
  family_name: "Lovelace",
  locale: "en-GB",
};

function SandboxInView({ emulatorUrl, navigate }: { emulatorUrl: string | null; navigate: Navigate }) {
  const [users, setUsers] = useState<SandboxUser[] | null>(null);
  const [listError, setListError] = useState<CommandError | null>(null);
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [adding, setAdding] = useState(false);
  const [addError, setAddError] = useState<CommandError | null>(null);
  const [signingIn, setSigningIn] = useState<string | null>(null);
  const [result, setResult] = useState<{ email: string; report: SignInReport } | null>(null);
  const [signInError, setSignInError] = useState<{ email: string; error: CommandError; quick: boolean } | null>(null);
  const [quickError, setQuickError] = useState<CommandError | null>(null);

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

  const signIn = async (userEmail: string, quick = false) => {
    setSigningIn(userEmail);
    setResult(null);
    setSignInError(null);
    try {
      setResult({ email: userEmail, report: await call("sandbox_sign_in", { email: userEmail }) });
    } catch (e) {
      setSignInError({ email: userEmail, error: toCommandError(e), quick });
    } finally {
      setSigningIn(null);
    }
  };

  // The one-click start: Ada as a test user (unless she is one already), then her sign-in.
  const adaExists = users?.some((u) => u.email === ADA.email) ?? false;
  const quickStart = async () => {
    setQuickError(null);
    if (!adaExists) {
      setAdding(true);
      try {
        await call("sandbox_add_user", { user: ADA });
        await reload();
      } catch (e) {
        setQuickError(toCommandError(e));
        return;
      } finally {
        setAdding(false);
      }
    }
    await signIn(ADA.email, true);
  };

  const body = result?.report.body;
  const profile = body && typeof body === "object" && !Array.isArray(body) ? body : null;
  const resultSub = typeof profile?.sub === "string" ? profile.sub : null;
  const resultName = typeof profile?.name === "string" && profile.name ? profile.name : result?.email;
  const signedIn = result !== null && result.report.status < 400;
  const quickStartError = quickError ?? (signInError?.quick ? signInError.error : null);

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
      <p className="muted" data-testid="sandbox-purpose">
        Rehearse the server side of Google Sign-In offline: a built-in Google and test users — nothing here reaches
        Google or your real users.
      </p>

      {!signedIn && (
        <section className="card" data-testid="sandbox-quick-start">
          <h2>Start here</h2>
          <p>
            One click plays what an iOS app does when someone signs in with Google: a code for the test user, POSTed to
            TokenDesk's receiver, exchanged for her tokens, and her page in Users.
          </p>
          <button
            type="button"
            className="primary"
            data-testid="sandbox-quick-start-button"
            disabled={users === null || adding || signingIn !== null}
            onClick={() => void quickStart()}
          >
            {signingIn === ADA.email
              ? "Signing in…"
              : adaExists
                ? "Simulate Ada Lovelace's iOS sign-in"
                : "Add Ada Lovelace and simulate her iOS sign-in"}
          </button>
          <ErrorBox
            error={quickStartError}
            onDismiss={() => {
              setQuickError(null);
              setSignInError(null);
            }}
          />
        </section>
      )}

      <section className="card">
        <h2>Test users</h2>
        <ErrorBox error={listError} />
        <table className="table">
          <thead>
            <tr>
              <th>Email</th>
              <th>Name</th>
              <th>sub</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
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
                  {signInError?.email === u.email && !signInError.quick && (
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
          {signedIn && resultSub && (
            <button
              type="button"
              className="primary"
              data-testid="sandbox-open-user"
              onClick={() => navigate({ name: "user", sub: resultSub })}
            >
              Open {resultName}'s page →
            </button>
          )}
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
        </section>
      )}
    </div>
  );
}
