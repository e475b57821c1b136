// The command names, shared with the app (src/command_names.rs), so that the permissions the
// build generates and the handler the app registers cannot drift apart.
include!("src/command_names.rs");

fn main() {
    // The app's own commands are listed here so that each gets a permission, and a
    // capability must grant it explicitly: nothing is allowed everywhere by default
    // (tauri PR #9008; SECURITY.md §39).
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
