import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import { appStatus } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

describe("About", () => {
  it("shows the build's version and commit from the about command", async () => {
    const calls = mockCommands({
      app_status: () => appStatus({}),
      users_page: () => ({ total: 0, offset: 0, users: [], more_matches: false }),
      about: () => ({ version: "9.8.7", commit: "abc1234" }),
    });
    render(<App />);
    fireEvent.click(await screen.findByTestId("nav-about"));
    expect((await screen.findByText("9.8.7")).dataset.testid).toBe("about-version");
    expect(screen.getByTestId("about-commit").textContent).toBe("abc1234");
    expect(callsOf(calls, "about")).toHaveLength(1);
  });
});
