//! The man pages and shell completions `--generate` prints, for both commands: made
//! from the same clap definitions the binaries parse with, they hold every option the
//! binaries' own --help lists; and `gzfleet -h` fits on one screen, as gzip's does.

use std::collections::BTreeSet;
use std::process::Command;

use crate::util::*;

/// The long options a help text defines (`--workers`): the first one on each line that
/// starts with an option, not those its prose mentions.
fn long_options(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter(|l| l.starts_with("  "))
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .find(|w| w.starts_with("--") && w.len() > 2)
                .map(str::to_string)
        })
        .collect()
}

fn out(cmd: &mut Command) -> String {
    let r = run(cmd);
    assert_ok!(r);
    String::from_utf8(r.stdout).expect("UTF-8")
}

/// Every long option `program ARGS --help` lists.
fn options_of(program: &str, args: &[&str]) -> BTreeSet<String> {
    long_options(&out(Command::new(bin(program)).args(args).arg("--help")))
}

fn generated(program: &str, kind: &str) -> String {
    out(Command::new(bin(program)).args(["--generate", kind]))
}

/// Checks each document `program --generate` makes holds every option in `options`.
fn every_option_in(program: &str, options: &BTreeSet<String>) {
    assert!(
        options.len() > 10,
        "{program}: too few options read: {options:?}"
    );
    let man = generated(program, "man");
    assert!(
        man.contains(&format!(".TH {program} 1")),
        "{program}: not a man page"
    );
    let bash = generated(program, "complete-bash");
    let zsh = generated(program, "complete-zsh");
    let fish = generated(program, "complete-fish");
    for option in options {
        let bare = &option[2..];
        assert!(
            man.contains(&option.replace('-', "\\-")),
            "{program}: man lacks {option}"
        );
        assert!(
            bash.contains(option.as_str()),
            "{program}: bash lacks {option}"
        );
        assert!(
            zsh.contains(option.as_str()),
            "{program}: zsh lacks {option}"
        );
        assert!(
            fish.contains(&format!("-l {bare}")),
            "{program}: fish lacks {option}"
        );
    }
    // The bash script parses.
    let dir = Dir::new("completions");
    let script = dir.file("completion.bash", bash.as_bytes());
    assert_ok!(run(Command::new("bash").arg("-n").arg(script)));
}

#[test]
fn man_pages_and_completions_list_every_option() {
    let mut options = options_of("gzfleet", &[]);
    for sub in ["decompress", "test", "list", "index"] {
        options.extend(options_of("gzfleet", &[sub]));
    }
    // The subcommands' own options reach the page too (--offset is decompress's).
    assert!(options.contains("--offset") && options.contains("--generate"));
    every_option_in("gzfleet", &options);
    every_option_in("gzfleet-worker", &options_of("gzfleet-worker", &[]));
    assert!(generated("gzfleet", "man").contains("gzfleet decompress OPTIONS"));
    let r = run(gzfleet().args(["--generate", "html"]));
    assert_fails!(r, 1, "html");
}

#[test]
fn short_help_fits_one_screen_and_long_help_has_it_all() {
    let short = out(gzfleet().arg("-h"));
    assert!(short.lines().count() <= 40, "{short}");
    for option in [
        "--decompress",
        "--stdout",
        "--keep",
        "--suffix",
        "--workers",
    ] {
        assert!(short.contains(option), "-h lacks {option}");
    }
    assert!(!short.contains("--tls-cert"), "-h shows the whole list");
    let long = out(gzfleet().arg("--help"));
    assert!(long.contains("--tls-cert") && long.contains("--generate"));
    // Named gunzip, the same short screen.
    let gunzip = out(Command::new(crate::side_by_side::named("gunzip")).arg("-h"));
    assert_eq!(gunzip, short);
}
