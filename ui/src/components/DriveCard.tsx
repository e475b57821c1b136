import { useState } from "react";
import { call, toCommandError } from "../api";
import type { CommandError } from "../bindings/CommandError";
import type { DriveFile } from "../bindings/DriveFile";
import type { DriveReport } from "../bindings/DriveReport";
import type { PickedUpload } from "../bindings/PickedUpload";
import { formatBytes, localTime } from "../format";
import { ErrorBox } from "./ErrorBox";
import { PathInput } from "./PathInput";
import { RoleNote, useAllowed } from "../session";

type Pending = { kind: "upload"; picked: PickedUpload } | { kind: "delete"; file: DriveFile };

/**
 * The user's appDataFolder: the listing, and one file downloaded (the system's save dialog, or
 * the save folder of the settings), uploaded (a typed path or the system's open dialog, then a
 * confirmation) or deleted (after a confirmation).
 * The app reads and writes the files; the webview only sees names and sizes. Each action is
 * audited by the core.
 */
export function DriveCard({ sub, hasScope, onAudited }: { sub: string; hasScope: boolean; onAudited: () => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [report, setReport] = useState<DriveReport | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  // A path typed for the upload; empty: the system's open dialog.
  const [uploadPath, setUploadPath] = useState("");

  const act = async (name: string, action: () => Promise<string | null>, reload: boolean) => {
    setBusy(name);
    setError(null);
    setDone(null);
    try {
      const message = await action();
      if (message) setDone(message);
      if (reload) setReport(await call("drive_files", { sub }));
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setBusy(null);
      onAudited();
    }
  };

  const loadFiles = () =>
    act(
      "load",
      async () => {
        setReport(null);
        setReport(await call("drive_files", { sub }));
        return null;
      },
      false,
    );

  const download = (file: DriveFile) =>
    act(
      `download-${file.id}`,
      async () => {
        const saved = await call("drive_download", { sub, fileId: file.id, name: file.name });
        return saved ? `Saved ${file.name} (${formatBytes(saved.bytes)}) to ${saved.path}.` : null;
      },
      false,
    );

  const pickUpload = async () => {
    setError(null);
    setDone(null);
    try {
      const picked = await call("drive_pick_upload", { path: uploadPath.trim() || null });
      if (picked) setPending({ kind: "upload", picked });
    } catch (e) {
      setError(toCommandError(e));
    }
  };

  const confirm = () => {
    const p = pending;
    setPending(null);
    if (!p) return;
    if (p.kind === "upload") {
      void act(
        "upload",
        async () => {
          const r = await call("drive_upload", { sub, name: p.picked.name, mimeType: p.picked.mime_type });
          setUploadPath("");
          return `Uploaded ${r.file.name} (${r.file.id}).`;
        },
        true,
      );
    } else {
      void act(
        `delete-${p.file.id}`,
        async () => {
          const r = await call("drive_delete", { sub, fileId: p.file.id });
          return `Deleted ${r.file.name} (${r.file.id}).`;
        },
        true,
      );
    }
  };

  const refused = useAllowed("operator");
  return (
    <section className="card" aria-labelledby="drive-title">
      <h2 id="drive-title">Drive appDataFolder</h2>
      <div className="actions">
        <button type="button" data-testid="drive-load" disabled={busy !== null || refused !== null} onClick={() => void loadFiles()}>
          {busy === "load" ? "Loading…" : "Load appDataFolder files"}
        </button>
        <PathInput
          value={uploadPath}
          onChange={setUploadPath}
          testId="drive-upload-path"
          label="File to upload (a path; empty: choose in a dialog)"
          placeholder="file to upload: a path, or choose…"
          button={{
            text: busy === "upload" ? "Uploading…" : uploadPath.trim() ? "Upload…" : "Choose and upload…",
            testId: "drive-upload",
            disabled: busy !== null || pending !== null || refused !== null,
            onClick: () => void pickUpload(),
          }}
        />
        {!hasScope && <span className="muted small">This grant lacks the drive.appdata scope; Drive will refuse.</span>}
        <RoleNote reason={refused} testId="drive-role-note" />
      </div>
      {pending && (
        <div className="confirm" role="alertdialog" aria-modal="true" aria-labelledby="drive-confirm-title" aria-describedby="drive-confirm-text">
          <h3 id="drive-confirm-title">{pending.kind === "upload" ? "Upload this file?" : "Delete this file?"}</h3>
          <p id="drive-confirm-text" data-testid="drive-confirm-text">
            {pending.kind === "upload"
              ? `${pending.picked.name} (${formatBytes(pending.picked.bytes)}, ${pending.picked.mime_type}) goes into this user's appDataFolder, where their app reads it.`
              : `${pending.file.name} (${pending.file.id}) is deleted from this user's appDataFolder for good: appDataFolder files skip the trash.`}
          </p>
          <div className="actions">
            <button
              type="button"
              className={pending.kind === "delete" ? "danger" : "primary"}
              data-testid="drive-confirm"
              onClick={confirm}
            >
              {pending.kind === "upload" ? "Confirm: upload" : "Confirm: delete for good"}
            </button>
            <button type="button" data-testid="drive-cancel" onClick={() => setPending(null)} autoFocus>
              Cancel
            </button>
          </div>
        </div>
      )}
      {done && (
        <div className="ok-box" role="status" data-testid="drive-done">
          {done}
        </div>
      )}
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {report && (
        <>
          <div className="small">
            Folder id:{" "}
            <span className="mono" data-testid="drive-folder">
              {report.folder.id}
            </span>{" "}
            <span className="muted">
              ({report.folder.name}) · {report.files.length} file{report.files.length === 1 ? "" : "s"}
            </span>
          </div>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">id</th>
                <th scope="col">mimeType</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Modified</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {report.files.map((f) => (
                <tr key={f.id || f.name} data-testid="drive-file">
                  <td>{f.name}</td>
                  <td className="mono small">{f.id}</td>
                  <td className="mono small">{f.mimeType}</td>
                  <td className="num" title={f.size === null ? undefined : `${f.size} bytes`}>
                    {formatBytes(f.size)}
                  </td>
                  <td>{localTime(f.modifiedTime)}</td>
                  <td className="nowrap">
                    <button
                      type="button"
                      className="small-button"
                      data-testid="drive-download"
                      aria-label={`Download ${f.name}`}
                      disabled={busy !== null || refused !== null}
                      onClick={() => void download(f)}
                    >
                      Download
                    </button>{" "}
                    <button
                      type="button"
                      className="small-button danger"
                      data-testid="drive-delete"
                      aria-label={`Delete ${f.name}`}
                      disabled={busy !== null || pending !== null || refused !== null}
                      onClick={() => {
                        setDone(null);
                        setPending({ kind: "delete", file: f });
                      }}
                    >
                      Delete…
                    </button>
                  </td>
                </tr>
              ))}
              {report.files.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No files in this user's appDataFolder.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
