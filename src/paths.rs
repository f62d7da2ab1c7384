//! Paths assay reads and writes on someone's behalf, kept where they belong.
//!
//! - A path written in a channel file (untrusted, like a contract) is confined to a root
//!   (the project's folder): relative, not climbing out with `..`, and not leading out
//!   through a symbolic link, so a pull request cannot make a sink append to `~/.bashrc`
//!   or a source stream `/etc/passwd`.
//! - assay's own state under `.assay/` (locks, the outbox, the channel registry, the
//!   default stores) is never reached through a symbolic link: a committed link would
//!   otherwise make assay truncate or write whatever it points at.

use std::io;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

/// Why a path written on someone's behalf is not used; the text follows the path's name
/// ("sinks/x.csv climbs out of ...").
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PathRefusal {
    #[error("is empty")]
    Empty,
    #[error("is an absolute path; paths are relative, inside the project's folder {}", root.display())]
    Absolute { root: PathBuf },
    #[error("cannot be resolved")]
    Unresolved,
    #[error("climbs out of the project's folder {} with '..'", root.display())]
    ClimbsOut { root: PathBuf },
    #[error("its folder {} cannot be resolved: {message}", root.display())]
    RootUnresolved { root: PathBuf, message: String },
    #[error("leads out of {} through a symbolic link (to {})", root.display(), to.display())]
    LinkOut { root: PathBuf, to: PathBuf },
}

/// `written` (relative to `base`, the folder of the file it is written in) as a path
/// inside `root`, or why not. `..` may move between folders of the root, never above it;
/// a path that does not exist yet is checked through the nearest folder that does.
pub fn confined(root: &Path, base: &Path, written: &str) -> Result<PathBuf, PathRefusal> {
    let path = Path::new(written);
    if written.is_empty() {
        return Err(PathRefusal::Empty);
    }
    if path.is_absolute() || path.has_root() {
        return Err(PathRefusal::Absolute {
            root: root.to_path_buf(),
        });
    }
    let joined = base.join(path);
    let (Ok(root_abs), Ok(joined_abs)) = (std::path::absolute(root), std::path::absolute(&joined))
    else {
        return Err(PathRefusal::Unresolved);
    };
    if !normalized(&joined_abs).starts_with(normalized(&root_abs)) {
        return Err(PathRefusal::ClimbsOut {
            root: root.to_path_buf(),
        });
    }
    inside(root, &joined)?;
    Ok(joined)
}

/// The path with `.` and `..` taken out as text (no link is followed).
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether `path` (existing or not) resolves, symbolic links followed, to a place inside
/// `root`.
pub fn inside(root: &Path, path: &Path) -> Result<(), PathRefusal> {
    let root = std::fs::canonicalize(root).map_err(|e| PathRefusal::RootUnresolved {
        root: root.to_path_buf(),
        message: e.to_string(),
    })?;
    // the nearest part of the path that exists decides where the rest goes
    let mut existing = path;
    let resolved = loop {
        match std::fs::canonicalize(existing) {
            Ok(p) => break p,
            Err(_) => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => break std::env::current_dir().unwrap_or_default(),
            },
        }
    };
    if resolved.starts_with(&root) {
        Ok(())
    } else {
        Err(PathRefusal::LinkOut { root, to: resolved })
    }
}

/// Refuse a state path (a file or folder of assay's own) reached through a symbolic link:
/// the path itself and every folder between it and the `.assay` folder it lives in
/// (itself included); outside `.assay`, the path itself.
pub fn no_links(path: &Path) -> io::Result<()> {
    let parts: Vec<Component> = path.components().collect();
    let from = parts
        .iter()
        .rposition(|c| c.as_os_str() == ".assay")
        .unwrap_or(parts.len().saturating_sub(1));
    let mut prefix = PathBuf::new();
    for (i, part) in parts.iter().enumerate() {
        prefix.push(part);
        if i < from {
            continue;
        }
        if std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(io::Error::other(format!(
                "{} is a symbolic link; assay does not follow links where it keeps its own \
                 state (remove the link, or point the setting at a real folder)",
                prefix.display()
            )));
        }
    }
    Ok(())
}

/// Make a folder of assay's state (and its parents), refusing one reached through a link.
/// The `.assay` folder it is in gets a `.gitignore` of `*`: what assay keeps there
/// (stores, the outbox, the report) is never committed by accident.
pub fn state_dir(dir: &Path) -> io::Result<()> {
    no_links(dir)?;
    std::fs::create_dir_all(dir)?;
    no_links(dir)?;
    let parts: Vec<Component> = dir.components().collect();
    if let Some(i) = parts.iter().rposition(|c| c.as_os_str() == ".assay") {
        let ignore: PathBuf = parts[..=i].iter().collect::<PathBuf>().join(".gitignore");
        let created =
            no_follow(std::fs::OpenOptions::new().write(true).create_new(true)).open(&ignore);
        match created {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(b"# assay's own state: stores, the outbox, reports\n*\n")?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Write a file of assay's state whole or not at all: a temporary file beside it (owner
/// only), synced, renamed over it, and the folder synced so the rename survives a
/// crash. A reader sees the old file or the new one, never half of one.
pub fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    state_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let write = || -> io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = no_follow(&mut options).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Options that do not follow a symbolic link at the file itself (O_NOFOLLOW).
pub fn no_follow(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_paths_stay_under_their_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let base = root.join("channels");
        std::fs::create_dir(&base).unwrap();
        std::fs::create_dir(root.join("out")).unwrap();
        assert!(confined(root, &base, "x.jsonl").is_ok());
        assert!(confined(root, &base, "../out/x.jsonl").is_ok());
        assert!(confined(root, &base, "new/deeper/x.jsonl").is_ok());
        for bad in [
            "/etc/passwd",
            "../../x.jsonl",
            "../out/../../x",
            "",
            "../../../../../../home/.bashrc",
        ] {
            assert!(confined(root, &base, bad).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/tmp", base.join("away")).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", base.join("passwd.csv")).unwrap();
            let e = confined(root, &base, "away/x.jsonl").unwrap_err();
            assert!(matches!(e, PathRefusal::LinkOut { .. }), "{e}");
            assert!(confined(root, &base, "passwd.csv").is_err());
        }
    }

    #[cfg(unix)]
    #[test]
    fn state_paths_are_never_links() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".assay");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), state.join("outbox")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", state.join("history.lock")).unwrap();
        assert!(state_dir(&state.join("outbox")).is_err());
        assert!(state_dir(&state.join("outbox/notify")).is_err());
        assert!(no_links(&state.join("history.lock")).is_err());
        assert!(state_dir(&state.join("channels")).is_ok());
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(&state, &linked).unwrap();
        assert!(no_links(&dir.path().join(".assay/channels")).is_ok());
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        assert!(no_follow(&mut options)
            .open(state.join("history.lock"))
            .is_err());
    }
}
