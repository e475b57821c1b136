import { useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { About } from "../bindings/About";
import type { CommandError } from "../bindings/CommandError";
import { ErrorBox } from "../components/ErrorBox";

/** Which build this is (version and git commit), for bug reports. */
export function AboutPage({ dataDir }: { dataDir: string | null }) {
  const [about, setAbout] = useState<About | null>(null);
  const [error, setError] = useState<CommandError | null>(null);

  useEffect(() => {
    let alive = true;
    call("about", {})
      .then((a) => alive && setAbout(a))
      .catch((e: unknown) => alive && setError(toCommandError(e)));
    return () => {
      alive = false;
    };
  }, []);

  return (
    <div className="page">
      <div className="page-head">
        <h1>About TokenDesk</h1>
      </div>
      <section className="card">
        <p>The console for the server side of Google Sign-In.</p>
        {error && <ErrorBox error={error} />}
        <table className="kv">
          <tbody>
            <tr>
              <th>Version</th>
              <td className="mono" data-testid="about-version">
                {about?.version ?? "…"}
              </td>
            </tr>
            <tr>
              <th>Commit</th>
              <td className="mono" data-testid="about-commit">
                {about?.commit ?? "…"}
              </td>
            </tr>
            {dataDir && (
              <tr>
                <th>Data directory</th>
                <td className="mono wrap">{dataDir}</td>
              </tr>
            )}
          </tbody>
        </table>
        <p className="muted small">
          Quote the version and commit in a bug report. <span className="mono">tokendesk --version</span> prints the
          same for the command.
        </p>
      </section>
    </div>
  );
}
