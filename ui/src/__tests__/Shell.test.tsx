import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import { mockCommands } from "../test/ipc";
import indexHtml from "../../index.html?raw";

/** index.html's #root content: the first frame the window paints, before scripts run. */
function staticShell(): string {
  const doc = new DOMParser().parseFromString(indexHtml, "text/html");
  return doc.getElementById("root")?.innerHTML ?? "";
}

describe("the static first frame (index.html)", () => {
  it("is exactly what App renders before the store answers", () => {
    // app_status never answers: App's very first frame.
    mockCommands({ app_status: () => new Promise(() => {}) });
    const { container } = render(<App />);
    const shell = staticShell();
    expect(shell, "index.html's #root holds the app's first frame").toContain('data-testid="nav-users"');
    expect(shell).toBe(container.innerHTML);
  });
});
