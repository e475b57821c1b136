//! What a person reads when a file, stdin or a port fails: which one, why, and what to do.
//! (The core's own errors say that themselves; these are the ones the command meets first.)

use std::io::{self, ErrorKind, Read as _};
use std::net::SocketAddr;
use std::path::Path;

use anyhow::anyhow;

/// A code or a token is far smaller; more than this on stdin is something else.
const STDIN_LIMIT: u64 = 64 * 1024;

/// A file named on the command line could not be read. `what` names it ("the client secrets
/// file"), `hint` says where a good one comes from.
pub fn cannot_read(what: &str, path: &Path, err: &io::Error, hint: &str) -> anyhow::Error {
    let fix = match err.kind() {
        ErrorKind::NotFound => "no such file: check the path",
        ErrorKind::PermissionDenied => "you may not read it: make it readable (chmod u+r)",
        ErrorKind::IsADirectory => "that is a folder: pass the file inside it",
        _ => "check that it is a readable file",
    };
    anyhow!(
        "cannot read {what} {}: {err}. {fix}; {hint}",
        path.display()
    )
}

/// A file the command was asked to write could not be written.
pub fn cannot_write(what: &str, path: &Path, err: &io::Error) -> anyhow::Error {
    let fix = match err.kind() {
        ErrorKind::NotFound => "its folder does not exist: create it or pick another path",
        ErrorKind::PermissionDenied => "you may not write there: pick a path in a folder you own",
        ErrorKind::IsADirectory => "that is a folder: name a file inside it",
        _ => "pick another path",
    };
    anyhow!("cannot write {what} {}: {err}. {fix}", path.display())
}

/// A listener could not bind `addr` (given with `--listen`).
pub fn cannot_listen(addr: SocketAddr, err: &io::Error) -> anyhow::Error {
    let why = match err.kind() {
        ErrorKind::AddrInUse => format!(
            "port {} is in use (another `tokendesk serve` or `tokendesk emulator`, or another \
             program). Stop that program, or pick another port with --listen {}:PORT (port 0 \
             picks a free one)",
            addr.port(),
            addr.ip()
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied (ports below 1024 need privileges). Pick a port above 1023 with \
             --listen {}:PORT",
            addr.ip()
        ),
        ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine. Use --listen 127.0.0.1:{}",
            addr.ip(),
            addr.port()
        ),
        _ => format!("{err}. Pick another address or port with --listen"),
    };
    anyhow!("cannot listen on {addr}: {why}")
}

/// `value`, or what stdin holds when it is "-". `what` is "code" or "token".
pub fn arg_or_stdin(value: String, what: &str, command: &str) -> anyhow::Result<String> {
    if value != "-" {
        return Ok(value);
    }
    read_stdin(io::stdin().lock(), what, command)
}

fn read_stdin(input: impl io::Read, what: &str, command: &str) -> anyhow::Result<String> {
    let usage = format!(
        "pipe the {what} in (echo \"$X\" | tokendesk {command} -) or pass it as the argument"
    );
    let mut buf = String::new();
    input
        .take(STDIN_LIMIT + 1)
        .read_to_string(&mut buf)
        .map_err(|err| match err.kind() {
            ErrorKind::InvalidData => anyhow!(
                "cannot read the {what} from stdin (the argument was \"-\"): it is not UTF-8 \
                 text; {usage}"
            ),
            _ => anyhow!(
                "cannot read the {what} from stdin (the argument was \"-\"): {err}; {usage}"
            ),
        })?;
    if buf.len() as u64 > STDIN_LIMIT {
        anyhow::bail!(
            "stdin holds more than {} KiB: that is not one {what}; {usage}",
            STDIN_LIMIT / 1024
        );
    }
    let trimmed = buf.trim();
    if trimmed.is_empty() {
        anyhow::bail!("stdin was empty, but the argument \"-\" asks for the {what} there; {usage}");
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stdin_must_hold_one_code() {
        assert_eq!(
            read_stdin(&b"  4/0Ab \n"[..], "code", "exchange").unwrap(),
            "4/0Ab"
        );
        let empty = read_stdin(&b" \n"[..], "code", "exchange").unwrap_err();
        assert!(empty.to_string().contains("stdin was empty"), "{empty}");
        assert!(
            empty.to_string().contains("tokendesk exchange -"),
            "{empty}"
        );
        let huge = vec![b'a'; 64 * 1024 + 1];
        let err = read_stdin(&huge[..], "token", "inspect").unwrap_err();
        assert!(err.to_string().contains("more than 64 KiB"), "{err}");
        let exact = vec![b'a'; 64 * 1024];
        assert_eq!(
            read_stdin(&exact[..], "token", "inspect").unwrap().len(),
            64 * 1024
        );
        let binary = read_stdin(&[0xff, 0xfe][..], "token", "inspect").unwrap_err();
        assert!(binary.to_string().contains("not UTF-8"), "{binary}");
    }

    #[test]
    fn a_port_in_use_names_the_address_and_the_way_out() {
        let err = io::Error::from(ErrorKind::AddrInUse);
        let text = cannot_listen("127.0.0.1:8400".parse().unwrap(), &err).to_string();
        assert!(text.contains("127.0.0.1:8400"), "{text}");
        assert!(text.contains("--listen 127.0.0.1:PORT"), "{text}");
    }
}
