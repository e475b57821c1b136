//! Names the commit this build comes from (`tokendesk_core::BUILD_COMMIT`), for `tokendesk
//! --version`, the window's About page and the team server's API: `TOKENDESK_COMMIT`
//! when set (a build from a source tarball can say where it came from), else `git rev-parse
//! --short HEAD`, else "unknown". A build without git (or outside a clone) never fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TOKENDESK_COMMIT");
    let commit = match std::env::var("TOKENDESK_COMMIT") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_owned(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=TOKENDESK_COMMIT={commit}");
}

/// The short hash of HEAD, and cargo told to run this again when HEAD moves (a commit, a
/// checkout), not at every build.
fn git_commit() -> Option<String> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&manifest_dir)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    // HEAD names a branch whose ref file (or packed-refs) moves with each commit; in a
    // worktree HEAD lives in its own git dir and the refs in the common one.
    let git_dir = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from);
    let common_dir = git(&["rev-parse", "--git-common-dir"]).map(|d| manifest_dir.join(d));
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let mut watched: Vec<PathBuf> = Vec::new();
    if let Some(dir) = &git_dir {
        watched.push(dir.join("HEAD"));
    }
    if let Some(dir) = common_dir.as_deref().or(git_dir.as_deref()) {
        watched.push(dir.join("packed-refs"));
        if let Some(branch) = &branch {
            watched.push(dir.join(branch));
        }
    }
    // A path that does not exist would make cargo run this at every build.
    for path in watched.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(commit)
}
