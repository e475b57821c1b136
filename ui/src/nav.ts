export type Page =
  | { name: "users" }
  | { name: "user"; sub: string }
  | { name: "exchange" }
  | { name: "inspector" }
  | { name: "receiver" }
  | { name: "clients" }
  | { name: "sandbox" }
  | { name: "audit" }
  | { name: "about" };

export type Navigate = (page: Page) => void;
