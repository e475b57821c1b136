export type Page =
  | { name: "users" }
  | { name: "user"; sub: string }
  | { name: "exchange" }
  | { name: "lab" }
  | { name: "inspector" }
  | { name: "receiver" }
  | { name: "clients" }
  | { name: "sandbox" }
  | { name: "servers" }
  | { name: "audit" }
  | { name: "settings" }
  | { name: "about" };

export type Navigate = (page: Page) => void;

/** The pages the side bar and the command palette reach, in order. */
export const NAV: { name: Exclude<Page["name"], "user">; label: string }[] = [
  { name: "users", label: "Users" },
  { name: "exchange", label: "Exchange" },
  { name: "lab", label: "Sign-in lab" },
  { name: "inspector", label: "Inspector" },
  { name: "receiver", label: "Receiver" },
  { name: "clients", label: "Clients" },
  { name: "sandbox", label: "Sandbox" },
  { name: "servers", label: "Team server" },
  { name: "audit", label: "Audit" },
  { name: "settings", label: "Settings" },
  { name: "about", label: "About" },
];
