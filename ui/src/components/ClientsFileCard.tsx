import { useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { ClientsFileView } from "../bindings/ClientsFileView";
import type { ImportableClient } from "../bindings/ImportableClient";
import { Badge } from "./Badge";
import { ErrorBox } from "./ErrorBox";
import { useAction } from "../hooks";
import { PathInput } from "./PathInput";

/**
 * Clients between desks: every client's public configuration (never a secret) exported to a
 * file, and such a file opened here, each of its clients then added with its own
 * client_secret.json through the import form (`onFill` fills it). `version` changes when the
 * desk's clients do, so the file's list says again which are here.
 */
export function ClientsFileCard({ onFill, version }: { onFill: (c: ImportableClient) => void; version: number }) {
  const { busy, error, setError, run } = useAction();
  const [exported, setExported] = useState<string | null>(null);
  const [path, setPath] = useState("");
  const [file, setFile] = useState<ClientsFileView | null>(null);

  const exportClients = () =>
    run(async () => {
      setExported(null);
      const saved = await call("clients_export", {});
      if (saved) setExported(`Exported every client (no secret) to ${saved.path}.`);
    });

  const open = (typed: string | null) =>
    run(async () => {
      const view = await call("clients_file_open", { path: typed });
      if (view) {
        setFile(view);
        setPath(view.path);
      }
    });

  const openedPath = file?.path;
  useEffect(() => {
    if (version === 0 || !openedPath) return;
    call("clients_file_open", { path: openedPath })
      .then((view) => view && setFile(view))
      .catch((e: unknown) => setError(toCommandError(e)));
  }, [version, openedPath]);

  return (
    <section className="card form" aria-labelledby="clients-file-title">
      <h2 id="clients-file-title">Clients between desks</h2>
      <div className="hint">
        The file holds each client's name, client ID, provider and iOS client ids, never a secret: on the other desk each
        client is added with its own client_secret.json.
      </div>
      <div className="actions">
        <button type="button" data-testid="clients-export" disabled={busy} onClick={() => void exportClients()}>
          Export clients…
        </button>
      </div>
      {exported && (
        <div className="ok-box" role="status" data-testid="clients-exported">
          {exported}
        </div>
      )}
      <label>
        <span>Clients file</span>
        <PathInput
          value={path}
          onChange={setPath}
          testId="clients-file-path"
          placeholder="a path, or choose…"
          button={{
            text: path.trim() ? "Open" : "Choose…",
            testId: "clients-file-open",
            disabled: busy,
            onClick: () => void open(path.trim() || null),
          }}
        />
      </label>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {file && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">client_id</th>
              <th scope="col">Issuer</th>
              <th scope="col">On this desk</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {file.clients.map((c) => (
              <tr key={c.name} data-testid="clients-file-row" data-name={c.name} data-on-desk={c.on_desk}>
                <td>
                  <strong>{c.name}</strong>
                </td>
                <td className="mono small wrap">{c.client_id}</td>
                <td className="mono small wrap">{c.issuer}</td>
                <td>
                  {c.on_desk === "no" && <span className="muted small">not yet</span>}
                  {c.on_desk === "same" && <Badge tone="ok">already here</Badge>}
                  {c.on_desk === "other" && (
                    <Badge tone="warn" title="A client of this name with another client ID is here: remove it or rename one">
                      name taken
                    </Badge>
                  )}
                </td>
                <td className="nowrap">
                  {c.on_desk === "no" && (
                    <button type="button" className="small-button" data-testid="clients-file-fill" onClick={() => onFill(c)}>
                      Add with its secret…
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {file.clients.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  The file lists no client.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
