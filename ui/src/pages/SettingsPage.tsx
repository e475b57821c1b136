import { useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { CommandError } from "../bindings/CommandError";
import type { SettingsView } from "../bindings/SettingsView";
import { ErrorBox } from "../components/ErrorBox";
import { PathInput } from "../components/PathInput";

type Mode = "system" | "direct" | "manual";

/** The three ways to the network, as the radio buttons list them. */
const MODES: { mode: Mode; label: string }[] = [
  { mode: "system", label: "The environment's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)" },
  { mode: "direct", label: "No proxy" },
  { mode: "manual", label: "This proxy" },
];

/**
 * How the live store reaches Google: the environment's proxy (HTTPS_PROXY, HTTP_PROXY,
 * NO_PROXY), no proxy, or one given here; and a CA bundle trusted beside the system's. Saved in
 * the data folder and applied when the store opens (saving reopens it). The sandbox always goes
 * direct. And where downloads and exports are saved without the save dialog.
 */
export function SettingsPage() {
  const [view, setView] = useState<SettingsView | null>(null);
  const [mode, setMode] = useState<Mode>("system");
  const [url, setUrl] = useState("");
  const [noProxy, setNoProxy] = useState("");
  const [caBundle, setCaBundle] = useState("");
  const [saveFolder, setSaveFolder] = useState("");
  const [sweepMinutes, setSweepMinutes] = useState("");
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<CommandError | null>(null);

  const show = (v: SettingsView) => {
    setView(v);
    const p = v.settings.proxy;
    setMode(p.mode);
    setUrl(p.mode === "manual" ? p.url : "");
    setNoProxy(p.mode === "manual" ? p.no_proxy : "");
    setCaBundle(v.settings.ca_bundle ?? "");
    setSaveFolder(v.settings.save_folder ?? "");
    setSweepMinutes(v.settings.health_sweep_minutes ? String(v.settings.health_sweep_minutes) : "");
  };

  useEffect(() => {
    call("settings_get", {})
      .then(show)
      .catch((e: unknown) => setError(toCommandError(e)));
  }, []);

  const save = async () => {
    setBusy(true);
    setSaved(null);
    setError(null);
    try {
      const proxy =
        mode === "manual" ? { mode, url: url.trim(), no_proxy: noProxy.trim() } : { mode };
      const v = await call("settings_save", {
        settings: {
          proxy,
          ca_bundle: caBundle.trim() || null,
          save_folder: saveFolder.trim() || null,
          health_sweep_minutes: Number.parseInt(sweepMinutes, 10) > 0 ? Number.parseInt(sweepMinutes, 10) : null,
        },
      });
      show(v);
      setSaved(`Saved in ${v.path}; the live store now uses it.`);
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setBusy(false);
    }
  };

  const browse = async () => {
    try {
      const picked = await call("settings_pick_ca_bundle", {});
      if (picked) setCaBundle(picked);
    } catch (e) {
      setError(toCommandError(e));
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      <section className="card" aria-labelledby="network-title">
        <h2 id="network-title">Network</h2>
        <p className="muted small">
          Every call to Google or your provider (token, keys, tokeninfo, Drive, revoke, discovery) goes this way. The
          sandbox's emulator runs inside the app and is always reached directly.
        </p>
        <div className="form">
          <fieldset className="advanced">
            <legend>Proxy</legend>
            {MODES.map((m) => (
              <label className="radio" key={m.mode}>
                <input
                  type="radio"
                  name="proxy-mode"
                  value={m.mode}
                  checked={mode === m.mode}
                  onChange={() => setMode(m.mode)}
                  data-testid={`proxy-${m.mode}`}
                />
                <span>{m.label}</span>
              </label>
            ))}
            <div className="hint" data-testid="proxy-environment">
              The environment:{" "}
              {view === null
                ? "…"
                : view.environment.variables.length === 0
                  ? "none is set (calls go directly)."
                  : view.environment.variables.join("  ")}
            </div>
            <label>
              <span>Proxy URL</span>
              <input
                type="url"
                className="mono"
                value={url}
                disabled={mode !== "manual"}
                onChange={(e) => setUrl(e.target.value)}
                placeholder="http://proxy.example:3128"
                data-testid="proxy-url"
              />
            </label>
            <label>
              <span>No proxy for</span>
              <input
                type="text"
                className="mono"
                value={noProxy}
                disabled={mode !== "manual"}
                onChange={(e) => setNoProxy(e.target.value)}
                placeholder="127.0.0.1,localhost,.corp.example"
                data-testid="proxy-no-proxy"
              />
            </label>
          </fieldset>
          <label>
            <span>CA bundle (PEM)</span>
            <PathInput
              value={caBundle}
              onChange={setCaBundle}
              testId="ca-bundle"
              placeholder="none: the system's CAs only"
              button={{ text: "Browse…", testId: "ca-bundle-browse", onClick: () => void browse() }}
            />
          </label>
          <div className="hint">
            Certificates trusted beside the system's: your organization's CA, or a TLS-inspecting proxy's. Verification is
            never turned off.
          </div>
          <label>
            <span>Save downloads and exports in</span>
            <input
              type="text"
              className="mono"
              value={saveFolder}
              onChange={(e) => setSaveFolder(e.target.value)}
              placeholder="none: ask where, each time"
              data-testid="save-folder"
              spellCheck={false}
            />
          </label>
          <div className="hint">
            A folder: Drive downloads and the users, clients and audit exports go there without the save dialog, under
            a new name when one is taken (never over a file).
          </div>
          <label>
            <span>Health sweep every (minutes)</span>
            <input
              type="number"
              min={0}
              step={1}
              value={sweepMinutes}
              onChange={(e) => setSweepMinutes(e.target.value)}
              placeholder="off"
              data-testid="health-sweep-minutes"
            />
          </label>
          <div className="hint">
            While this window runs, every grant is checked on this schedule (tokeninfo, or a refresh when its access token
            is about to expire), grants Google refuses are marked, and users who newly need attention raise a desktop
            notification. Empty or 0: off (the default). `tokendesk health` does the same from cron.
          </div>
          <div className="actions">
            <button type="button" className="primary" disabled={busy} onClick={() => void save()} data-testid="settings-save">
              {busy ? "Saving…" : "Save"}
            </button>
            {view && <span className="muted small mono">{view.path}</span>}
          </div>
        </div>
        {saved && (
          <div className="ok-box" role="status" data-testid="settings-saved">
            {saved}
          </div>
        )}
        <ErrorBox error={error} onDismiss={() => setError(null)} />
      </section>
    </div>
  );
}
