import { useEffect, useState } from "react";
import { call, toCommandError, useTauriEvent } from "../api";
import type { ReceiverEvent } from "../bindings/ReceiverEvent";
import type { ReceiverStatus } from "../bindings/ReceiverStatus";
import { Badge } from "../components/Badge";
import { ErrorBox } from "../components/ErrorBox";
import { useAction, useClients } from "../hooks";
import { RoleNote, useSession } from "../session";

const MAX_EVENTS = 500;

export function ReceiverPage() {
  const { server } = useSession();
  const elsewhere = server
    ? "the team server runs its own receiver (its receiver listener): this window's receiver serves your own store or the sandbox"
    : null;
  const { clients } = useClients();
  const [port, setPort] = useState("8400");
  const [client, setClient] = useState("");
  const [status, setStatus] = useState<ReceiverStatus | null>(null);
  const [events, setEvents] = useState<ReceiverEvent[]>([]);
  const [stopNote, setStopNote] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction();

  useEffect(() => {
    let alive = true;
    call("receiver_status", {})
      .then((v) => {
        if (!alive) return;
        setStatus(v.status);
        // Newest first; keep any live event that arrived meanwhile.
        setEvents((live) => [...live, ...[...v.events].reverse()].slice(0, MAX_EVENTS));
      })
      .catch((e: unknown) => alive && setError(toCommandError(e)));
    return () => {
      alive = false;
    };
  }, []);

  useTauriEvent("receiver-event", (ev) => {
    setEvents((list) => [ev, ...list].slice(0, MAX_EVENTS));
  });

  const portNumber = Number(port);
  const portValid = port.trim() === "" || (Number.isInteger(portNumber) && portNumber >= 1 && portNumber <= 65535);

  const start = () =>
    run(async () => {
      setStatus(
        await call("receiver_start", { port: port.trim() === "" ? null : portNumber, client: client || null }),
      );
    });
  const stop = () =>
    run(async () => {
      setStopNote("Stopping: exchanges in flight are finished first…");
      const report = await call("receiver_stop", {});
      setStatus(null);
      setStopNote(stopMessage(report.waited_for, report.left_running));
    });

  return (
    <div className="page">
      <div className="page-head">
        <h1>Receiver</h1>
      </div>
      <section className="card form">
        <p className="muted small">
          The seed's "receive the authCode via HTTPS POST" endpoint: <span className="mono">POST /auth/code</span> with{" "}
          <span className="mono">X-Requested-With</span>, on loopback. Codes are exchanged and stored; the page below
          shows what arrived (never the codes).
        </p>
        <div className="inline-form">
          <label>
            <span>Port</span>
            <input
              type="number"
              min={1}
              max={65535}
              value={port}
              onChange={(e) => setPort(e.target.value)}
              data-testid="receiver-port"
              disabled={status !== null}
            />
          </label>
          <label>
            <span>Client</span>
            <select value={client} onChange={(e) => setClient(e.target.value)} disabled={status !== null} data-testid="receiver-client">
              <option value="">(default)</option>
              {clients?.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
          {status === null ? (
            <button
              type="button"
              className="primary"
              data-testid="receiver-start"
              disabled={busy || !portValid || elsewhere !== null}
              onClick={() => void start()}
            >
              Start
            </button>
          ) : (
            <button type="button" data-testid="receiver-stop" disabled={busy} onClick={() => void stop()}>
              Stop
            </button>
          )}
          <RoleNote reason={elsewhere} testId="receiver-elsewhere" />
        </div>
        {!portValid && <div className="text-bad small">A port is a number from 1 to 65535.</div>}
        {status && (
          <div className="ok-box">
            Listening on{" "}
            <span className="mono" data-testid="receiver-url">
              {status.url}
            </span>{" "}
            <Badge tone="info">{status.mode === "sandbox" ? "Sandbox" : "Live"}</Badge>
            {status.client && <span className="small"> client {status.client}</span>}
          </div>
        )}
        {!status && <div className="muted small" data-testid="receiver-stopped">Not running.</div>}
        {stopNote && (
          <div className="muted small" data-testid="receiver-stop-note">
            {stopNote}
          </div>
        )}
        <ErrorBox error={error} onDismiss={() => setError(null)} />
      </section>
      <section className="card">
        <h2>Incoming ({events.length})</h2>
        <table className="table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Peer</th>
              <th className="num">Status</th>
              <th>Outcome</th>
              <th>sub</th>
              <th>Email</th>
            </tr>
          </thead>
          <tbody>
            {events.map((ev, i) => (
              <tr key={`${ev.at_unix}-${ev.peer}-${events.length - i}`} data-testid="receiver-event" data-status={ev.status}>
                <td className="nowrap">{new Date(ev.at_unix * 1000).toLocaleString()}</td>
                <td className="mono">{ev.peer}</td>
                <td className={`num ${ev.status >= 400 ? "text-bad" : "text-ok"}`}>{ev.status}</td>
                <td className="mono">{ev.outcome}</td>
                <td className="mono small">{ev.sub ?? ""}</td>
                <td>{ev.email ?? ""}</td>
              </tr>
            ))}
            {events.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  Nothing received yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
    </div>
  );
}

/** What stopping did with the exchanges that were in flight, in a sentence (none: no note). */
export function stopMessage(waitedFor: number, leftRunning: number): string | null {
  if (leftRunning > 0)
    return `Stopped. ${leftRunning} exchange(s) still running were left after 30 s: what Google answered them is kept, and the next start finishes them.`;
  if (waitedFor > 0) return `Stopped after the ${waitedFor} exchange(s) in flight finished.`;
  return null;
}
