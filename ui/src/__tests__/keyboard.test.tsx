import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import { appStatus, settingsView, userView } from "../test/fixtures";
import { mockCommands } from "../test/ipc";

function mocks() {
  return mockCommands({
    app_status: () => appStatus(),
    users_page: () => ({ total: 1, offset: 0, users: [userView(1)], more_matches: false }),
    clients_list: () => [],
    audit_log: () => [],
    settings_get: () => settingsView(),
  });
}

describe("keyboard", () => {
  it("/ focuses the users search, from the Users page or any other", async () => {
    mocks();
    render(<App />);
    const search = await screen.findByTestId("users-search");
    search.blur();
    fireEvent.keyDown(document.body, { key: "/" });
    expect(document.activeElement).toBe(search);

    fireEvent.click(screen.getByTestId("nav-audit"));
    await screen.findByTestId("audit-action");
    fireEvent.keyDown(document.body, { key: "/" });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("users-search")));
  });

  it("/ typed into a field is a slash, not a shortcut", async () => {
    mocks();
    render(<App />);
    await screen.findByTestId("users-search");
    fireEvent.click(screen.getByTestId("nav-audit"));
    const text = await screen.findByTestId("audit-text");
    text.focus();
    fireEvent.keyDown(text, { key: "/" });
    expect(document.activeElement).toBe(text);
    expect(screen.queryByTestId("users-search")).toBeNull();
  });

  it("Ctrl+K opens the palette: typing filters, arrows move, Enter goes, Esc closes", async () => {
    mocks();
    render(<App />);
    await screen.findByTestId("users-search");
    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    const input = await screen.findByTestId("palette-input");
    expect(document.activeElement).toBe(input);
    const labels = () => screen.getAllByTestId("palette-item").map((li) => li.textContent ?? "");
    expect(labels()).toContain("Go to Settings page");
    expect(labels().some((l) => l.startsWith("Refresh all"))).toBe(true);

    fireEvent.change(input, { target: { value: "go to" } });
    expect(labels().every((l) => l.toLowerCase().includes("go to"))).toBe(true);
    fireEvent.change(input, { target: { value: "set" } });
    expect(labels()[0]).toContain("Go to Settings");
    fireEvent.keyDown(input, { key: "Enter" });
    expect(await screen.findByTestId("settings-save")).toBeTruthy();
    expect(screen.queryByTestId("palette")).toBeNull();

    fireEvent.keyDown(window, { key: "K", metaKey: true });
    const again = await screen.findByTestId("palette-input");
    fireEvent.change(again, { target: { value: "go to" } });
    const first = screen.getAllByTestId("palette-item")[0];
    expect(first.getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(again, { key: "ArrowDown" });
    expect(screen.getAllByTestId("palette-item")[1].getAttribute("aria-selected")).toBe("true");
    expect(again.getAttribute("aria-activedescendant")).toBe(screen.getAllByTestId("palette-item")[1].id);
    fireEvent.keyDown(again, { key: "Enter" });
    expect(await screen.findByTestId("exchange-code")).toBeTruthy();

    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    fireEvent.keyDown(await screen.findByTestId("palette-input"), { key: "Escape" });
    expect(screen.queryByTestId("palette")).toBeNull();
  });

  it("the palette presses the page's own buttons", async () => {
    const calls = mocks();
    render(<App />);
    await screen.findAllByTestId("user-row");
    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    fireEvent.change(await screen.findByTestId("palette-input"), { target: { value: "export csv" } });
    expect(screen.getAllByTestId("palette-item")).toHaveLength(1);
    fireEvent.keyDown(screen.getByTestId("palette-input"), { key: "Enter" });
    await waitFor(() => expect(calls.some((c) => c.cmd === "users_export")).toBe(true));
  });

  it("? lists the shortcuts; Esc closes them", async () => {
    mocks();
    render(<App />);
    await screen.findByTestId("users-search");
    (document.activeElement as HTMLElement | null)?.blur();
    fireEvent.keyDown(document.body, { key: "?" });
    const help = await screen.findByTestId("shortcuts");
    expect(help.textContent).toContain("Ctrl+K");
    expect(help.textContent).toContain("Search users");
    fireEvent.keyDown(help, { key: "Escape" });
    expect(screen.queryByTestId("shortcuts")).toBeNull();
  });
});
