import { useState } from "react";
import { call, toCommandError } from "../api";
import type { CommandError } from "../bindings/CommandError";
import type { ImportableClient } from "../bindings/ImportableClient";
import { Badge } from "../components/Badge";
import { ClientsFileCard } from "../components/ClientsFileCard";
import { ErrorBox } from "../components/ErrorBox";
import { localTime } from "../format";
import { useClients } from "../hooks";
import { PathInput } from "../components/PathInput";
import { RoleNote, useAllowed } from "../session";

export function ClientsPage({ onStatusChanged }: { onStatusChanged: () => Promise<void> | void }) {
  const refused = useAllowed("admin");
  const { clients, error: listError, reload } = useClients();
  const [name, setName] = useState("");
  const [path, setPath] = useState("");
  // What the file dialog chose: kept by the app (Rust), shown here; sent as "the picked file"
  // unless the person typed another path.
  const [picked, setPicked] = useState<string | null>(null);
  const [issuer, setIssuer] = useState("");
  const [apiBase, setApiBase] = useState("");
  const [iosIds, setIosIds] = useState("");
  // The client of a clients file the form was filled from: its secret must be that client's.
  const [fromFile, setFromFile] = useState<ImportableClient | null>(null);
  const [version, setVersion] = useState(0);
  const [busy, setBusy] = useState(false);
  const [importOk, setImportOk] = useState<string | null>(null);
  const [importError, setImportError] = useState<CommandError | null>(null);
  const [confirmRemove, setConfirmRemove] = useState<string | null>(null);
  const [removeError, setRemoveError] = useState<{ name: string; error: CommandError } | null>(null);

  const browse = async () => {
    setImportError(null);
    try {
      const chosen = await call("client_pick_file", {});
      if (chosen) {
        setPath(chosen);
        setPicked(chosen);
      }
    } catch (e) {
      setImportError(toCommandError(e));
    }
  };

  const doImport = async () => {
    setBusy(true);
    setImportOk(null);
    setImportError(null);
    try {
      const c = await call("client_import", {
        request: {
          name: name.trim(),
          path: picked !== null && path === picked ? null : path.trim(),
          issuer: issuer.trim() || null,
          api_base: apiBase.trim() || null,
          ios_client_ids: iosIds
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
          client_id: fromFile?.client_id,
        },
      });
      setImportOk(`Imported "${c.name}" (${c.client_id}). Its client secret is sealed in the store.`);
      setName("");
      setPath("");
      setPicked(null);
      setIssuer("");
      setApiBase("");
      setIosIds("");
      setFromFile(null);
      setVersion((v) => v + 1);
      await reload();
      await onStatusChanged();
    } catch (e) {
      setImportError(toCommandError(e));
    } finally {
      setBusy(false);
    }
  };

  const fill = (c: ImportableClient) => {
    setFromFile(c);
    setName(c.name);
    setPath("");
    setPicked(null);
    setIssuer(c.api_base === null ? "" : c.issuer);
    setApiBase(c.api_base ?? "");
    setIosIds(c.ios_client_ids.join(", "));
    setImportOk(null);
    setImportError(null);
    document.getElementById("client-import-title")?.scrollIntoView?.();
    document.querySelector<HTMLInputElement>("[data-testid='client-path']")?.focus();
  };

  const remove = async (clientName: string) => {
    setConfirmRemove(null);
    setRemoveError(null);
    try {
      await call("client_remove", { name: clientName });
      setVersion((v) => v + 1);
      await reload();
      await onStatusChanged();
    } catch (e) {
      setRemoveError({ name: clientName, error: toCommandError(e) });
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Clients</h1>
      </div>
      <section className="card">
        <ErrorBox error={listError} />
        <table className="table clients">
          <thead>
            <tr>
              <th>Name</th>
              <th>client_id</th>
              <th>Issuer</th>
              <th>iOS client ids</th>
              <th>Token endpoint</th>
              <th>Drive API base</th>
              <th>Added</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {clients?.map((c) => (
              <tr key={c.name} data-testid="client-row" data-name={c.name}>
                <td>
                  <strong>{c.name}</strong>
                </td>
                <td className="mono small wrap">{c.client_id}</td>
                <td className="mono small wrap">
                  {c.issuer}{" "}
                  {c.foreign_endpoints && (
                    <Badge tone="warn" testId="client-foreign" title="Chosen explicitly: this provider is not Google">
                      not Google
                    </Badge>
                  )}
                </td>
                <td className="mono small wrap">{c.ios_client_ids.join(", ")}</td>
                <td className="mono small wrap">{c.token_endpoint ?? ""}</td>
                <td className="mono small wrap">{c.drive_api_base ?? ""}</td>
                <td className="small nowrap">{localTime(c.created_at)}</td>
                <td className="nowrap">
                  {confirmRemove === c.name ? (
                    <span className="inline-confirm" role="dialog" aria-label={`Remove ${c.name}`}>
                      <span className="small">Remove {c.name} and its secret?</span>{" "}
                      <button type="button" className="danger small-button" data-testid="client-remove-confirm" onClick={() => void remove(c.name)}>
                        Remove
                      </button>{" "}
                      <button type="button" className="small-button" data-testid="client-remove-cancel" onClick={() => setConfirmRemove(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" className="small-button" data-testid="client-remove" disabled={refused !== null} title={refused ?? undefined} onClick={() => setConfirmRemove(c.name)}>
                      Remove
                    </button>
                  )}
                  {removeError?.name === c.name && <ErrorBox error={removeError.error} onDismiss={() => setRemoveError(null)} />}
                </td>
              </tr>
            ))}
            {clients?.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">
                  No client yet: import the client_secret.json of your web (server) OAuth client below.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>

      <section className="card form" aria-labelledby="client-import-title">
        <h2 id="client-import-title">Import a client_secret.json</h2>
        {fromFile && (
          <div className="hint" data-testid="client-from-file">
            From the clients file: give the client_secret.json of {fromFile.client_id}.{" "}
            <button type="button" className="small-button" onClick={() => setFromFile(null)}>
              Not from the file
            </button>
          </div>
        )}
        <label>
          <span>Name</span>
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} data-testid="client-name" placeholder="prod" />
        </label>
        <label>
          <span>File</span>
          <PathInput
            value={path}
            onChange={setPath}
            testId="client-path"
            placeholder="/path/to/client_secret_….json"
            button={{ text: "Browse…", testId: "client-browse", onClick: () => void browse() }}
          />
        </label>
        <label>
          <span>iOS client id(s)</span>
          <input
            type="text"
            className="mono"
            value={iosIds}
            onChange={(e) => setIosIds(e.target.value)}
            data-testid="client-ios-ids"
            placeholder="123-abc.apps.googleusercontent.com, …"
            spellCheck={false}
          />
        </label>
        <div className="hint">Comma-separated. The ID token's azp must be one of these (or the web client id).</div>
        <fieldset className="advanced">
          <legend>Another OpenID provider (optional)</legend>
          <div className="hint">
            Leave both empty for Google. Fill them only for another OpenID provider on purpose, such as the built-in
            emulator: the issuer URL is used for OIDC discovery, the API base for Drive.
          </div>
          <label>
            <span>Issuer URL</span>
            <input
              type="url"
              className="mono"
              value={issuer}
              onChange={(e) => setIssuer(e.target.value)}
              data-testid="client-issuer"
              placeholder="http://127.0.0.1:8300"
              spellCheck={false}
            />
          </label>
          <label>
            <span>API base URL</span>
            <input
              type="url"
              className="mono"
              value={apiBase}
              onChange={(e) => setApiBase(e.target.value)}
              data-testid="client-api-base"
              placeholder="http://127.0.0.1:8300"
              spellCheck={false}
            />
          </label>
        </fieldset>
        <div className="actions">
          <button
            type="button"
            className="primary"
            data-testid="client-import"
            disabled={busy || name.trim() === "" || path.trim() === "" || refused !== null}
            onClick={() => void doImport()}
          >
            {busy ? "Importing…" : "Import"}
          </button>
          <RoleNote reason={refused} testId="clients-role-note" />
        </div>
        {importOk && (
          <div className="ok-box" data-testid="client-import-ok">
            {importOk}
          </div>
        )}
        <ErrorBox error={importError} onDismiss={() => setImportError(null)} />
      </section>

      <ClientsFileCard onFill={fill} version={version} />
    </div>
  );
}
