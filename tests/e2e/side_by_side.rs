//! gzip and gzfleet side by side: twin folders set up alike, the same command line run
//! by the system's gzip in one and by gzfleet (in gzip's form) in the other, and what
//! each left compared: names, modes, owners, times, and contents (gzip data decoded,
//! since the two compressors' bytes differ).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::util::*;

/// Who runs the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    Root,
    /// `nobody`, through setpriv, with no supplementary groups.
    Nobody,
}

/// Whether the tests run as root (the unprivileged half needs it to switch user).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub struct Twins {
    pub gzip: Dir,
    pub ours: Dir,
}

/// What one of the two did.
pub struct Outcome {
    pub run: Run,
    pub entries: Vec<Entry>,
}

/// One name in a folder as compared.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    /// Only for names the command created: reading an input moves its own atime.
    pub atime: Option<i64>,
    /// Bytes; decoded when they are gzip; a link's target.
    pub content: Vec<u8>,
}

impl Twins {
    /// Two folders, each set up by `setup`; for `As::Nobody` handed to nobody (the
    /// folder, and what `setup` made unless it chose an owner itself).
    pub fn new(name: &str, setup: impl Fn(&Path)) -> Twins {
        let twins = Twins {
            gzip: Dir::new(&format!("{name}-gzip")),
            ours: Dir::new(&format!("{name}-ours")),
        };
        setup(&twins.gzip.path);
        setup(&twins.ours.path);
        same_times(&twins.gzip.path, &twins.ours.path);
        twins
    }

    /// Runs `gzip ARGS` in one folder and `gzfleet ARGS` in the other, as `user`,
    /// with `stdin` (not a terminal) as input.
    pub fn run(&self, user: As, args: &[&str]) -> (Outcome, Outcome) {
        self.run_as("gzip", gzfleet(), user, args)
    }

    /// As [`Twins::run`], with the system's `program` (gzip, gunzip, zcat) beside
    /// `ours`.
    pub fn run_as(
        &self,
        program: &str,
        ours: Command,
        user: As,
        args: &[&str],
    ) -> (Outcome, Outcome) {
        let before = names(&self.gzip.path);
        let gzip = outcome(&self.gzip.path, &before, Command::new(program), user, args);
        let ours = outcome(&self.ours.path, &before, ours, user, args);
        (gzip, ours)
    }

    /// Runs both and asserts they agree: exit status, stdout bytes, what is left in
    /// the folders, and a message naming the problem (`needle`, empty for none).
    pub fn agree(&self, user: As, args: &[&str], needle: &str) -> (Outcome, Outcome) {
        let (gzip, ours) = self.run(user, args);
        agree(gzip, ours, &format!("{args:?} as {user:?}"), needle)
    }

    /// As [`Twins::agree`], with gzfleet invoked by `program`'s name (a link named
    /// gzip, gunzip or zcat), beside the system's `program`.
    pub fn agree_as(&self, program: &str, args: &[&str], needle: &str) -> (Outcome, Outcome) {
        let (gzip, ours) = self.run_as(program, Command::new(named(program)), As::Root, args);
        agree(gzip, ours, &format!("{program} {args:?}"), needle)
    }
}

/// gzfleet under `program`'s name: a link in a folder of its own, made once.
pub fn named(program: &str) -> std::path::PathBuf {
    static LINKS: std::sync::OnceLock<Dir> = std::sync::OnceLock::new();
    let dir = LINKS.get_or_init(|| {
        let dir = Dir::new("names-as-gzip");
        for name in ["gzip", "gunzip", "zcat"] {
            std::os::unix::fs::symlink(bin("gzfleet"), dir.join(name)).expect("a link");
        }
        dir
    });
    dir.join(program)
}

/// Asserts two outcomes agree: exit status, stdout bytes, what is left in the
/// folders, and a message naming the problem (`needle`, empty for none).
pub fn agree(gzip: Outcome, ours: Outcome, case: &str, needle: &str) -> (Outcome, Outcome) {
    assert_eq!(
        ours.run.status.code(),
        gzip.run.status.code(),
        "{case}: exit status differs from gzip's\n gzip: {}\n ours: {}",
        gzip.run.stderr,
        ours.run.stderr
    );
    for (who, o) in [("gzip", &gzip), ("gzfleet", &ours)] {
        assert!(
            o.run.stderr.contains(needle),
            "{case}: {who} does not say {needle:?}: {}",
            o.run.stderr
        );
    }
    if needle.is_empty() {
        assert_eq!(ours.run.stderr, "", "{case}: gzfleet said something");
    }
    assert!(
        ours.run.stdout == gzip.run.stdout
            || decoded(&ours.run.stdout) == decoded(&gzip.run.stdout),
        "{case}: stdout differs: gzip wrote {} bytes, gzfleet {} ({})",
        gzip.run.stdout.len(),
        ours.run.stdout.len(),
        match gzip
            .run
            .stdout
            .iter()
            .zip(&ours.run.stdout)
            .position(|(a, b)| a != b)
        {
            Some(at) => format!("first difference at byte {at}"),
            None => "one is a prefix of the other".into(),
        }
    );
    let names = |o: &Outcome| o.entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&gzip),
        "{case}: the names left differ\n gzip: {}\n ours: {}",
        gzip.run.stderr,
        ours.run.stderr
    );
    for (a, b) in ours.entries.iter().zip(&gzip.entries) {
        assert!(
            a.content == b.content,
            "{case}: {} differs in content",
            a.name
        );
    }
    assert_eq!(ours.entries, gzip.entries, "{case}: the folders differ");
    (gzip, ours)
}

fn outcome(dir: &Path, before: &[String], mut cmd: Command, user: As, args: &[&str]) -> Outcome {
    let mut cmd = match user {
        As::Root => {
            cmd.args(args);
            cmd
        }
        As::Nobody => {
            let mut s = Command::new("setpriv");
            s.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(cmd.get_program())
                .args(args);
            s
        }
    };
    let run = run_with(cmd.current_dir(dir), Some(b""));
    Outcome {
        run,
        entries: entries(dir, before),
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("listing")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `bytes` decoded if they are gzip, else as they are.
pub fn decoded(bytes: &[u8]) -> Vec<u8> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return bytes.to_vec();
    }
    let mut out = Vec::new();
    match std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out) {
        Ok(_) => out,
        Err(_) => bytes.to_vec(),
    }
}

fn entries(dir: &Path, before: &[String]) -> Vec<Entry> {
    names(dir)
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let content = if meta.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .expect("readlink")
                    .into_os_string()
                    .into_encoded_bytes()
            } else if meta.is_file() {
                decoded(&std::fs::read(&path).expect("reading"))
            } else {
                Vec::new()
            };
            Entry {
                atime: (!before.contains(&name)).then(|| meta.atime()),
                name,
                mode: meta.mode(),
                uid: meta.uid(),
                gid: meta.gid(),
                // A folder's time is when the tool last wrote into it: the twins' runs
                // are seconds apart, and neither gzip nor gzfleet sets it.
                mtime: if meta.is_dir() { 0 } else { meta.mtime() },
                content,
            }
        })
        .collect()
}

/// Sets a file's owner and group (root only), not following a link.
pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).expect("chown");
}

/// Sets a file's mode.
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Sets a file's access and modification times, seconds since the epoch.
pub fn set_times(path: &Path, atime: u64, mtime: u64) {
    let at = |s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| {
            f.set_times(
                std::fs::FileTimes::new()
                    .set_accessed(at(atime))
                    .set_modified(at(mtime)),
            )
        })
        .expect("setting times");
}

/// Runs a shell line that must succeed (mkfifo, mknod, a .gz made by gzip).
pub fn sh(dir: &Path, line: &str) {
    let r = run(Command::new("sh").args(["-c", line]).current_dir(dir));
    assert_ok!(r);
}

/// Gives every name in `to` the access and modification times it has in `from`. The
/// twins are set up one after the other, so a second can tick between them (seen in CI
/// under load), and times are compared to the second. Not following links, and never
/// opening (a FIFO would block).
fn same_times(from: &Path, to: &Path) {
    use std::os::unix::ffi::OsStrExt;
    for name in names(from) {
        let meta = std::fs::symlink_metadata(from.join(&name)).expect("stat");
        let times = [
            libc::timespec {
                tv_sec: meta.atime(),
                tv_nsec: meta.atime_nsec(),
            },
            libc::timespec {
                tv_sec: meta.mtime(),
                tv_nsec: meta.mtime_nsec(),
            },
        ];
        let path = std::ffi::CString::new(to.join(&name).as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path and two timespecs, as utimensat(2) takes.
        let rc = unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                path.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        assert_eq!(
            rc,
            0,
            "utimensat {}: {}",
            to.join(&name).display(),
            std::io::Error::last_os_error()
        );
    }
}
