import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

/** Mounts the app over index.html's first frame (React replaces it with the same markup). */
export function mount(root: HTMLElement): void {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
