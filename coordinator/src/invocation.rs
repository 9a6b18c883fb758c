//! How the command line is read, before and after clap: gzfleet answers both as itself
//! (`gzfleet compress ...`) and as gzip, gunzip and zcat (`gzfleet -d f.gz`, a link
//! named `gunzip`, `tar -I gzfleet`), so that it can stand where they stand.
//!
//! The name it was invoked by and its first argument decide the form: a subcommand
//! name is the subcommand form; anything else is gzip's form, `[OPTIONS] [FILE...]`,
//! whose options are the compress options plus gzip's mode switches. Both forms end as
//! the same [`Cli`], so everything below sees one command.

use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

use crate::cli::{Cli, Command, CompressArgs, DecompressArgs, ListArgs, TestArgs};

/// The subcommands: a first argument spelled so is one (a file so named is `./compress`
/// or follows `--`).
const SUBCOMMANDS: [&str; 6] = ["compress", "decompress", "test", "list", "index", "help"];

/// gzip's form: the compress options plus the switches that pick another mode.
#[derive(Debug, Parser)]
#[command(
    name = "gzfleet",
    version,
    args_override_self = true,
    about = "pigz for a cluster: parallel gzip on this machine, or across many",
    override_usage = "gzfleet [OPTIONS] [FILE]...\n       gzfleet <compress|decompress|test|list> [OPTIONS] [FILE]...",
    after_help = "Without a subcommand gzfleet reads options as gzip does (-d, -t, -l pick the \
        mode); invoked as gunzip or zcat it is those. The subcommands take the same options: \
        see `gzfleet compress --help`, `gzfleet decompress --help`."
)]
struct GzipForm {
    /// Decompress (as gunzip)
    #[arg(short = 'd', long = "decompress", visible_alias = "uncompress")]
    decompress: bool,
    /// Check compressed files (as gzip -t)
    #[arg(short = 't', long)]
    test: bool,
    /// List compressed files (as gzip -l)
    #[arg(short = 'l', long)]
    list: bool,
    /// Print the license and exit
    #[arg(short = 'L', long)]
    license: bool,
    /// Instead of running: print the man page, or a shell's completions (man,
    /// complete-bash, complete-zsh, complete-fish), made from these very options
    #[arg(long, value_name = "KIND", hide_short_help = true)]
    generate: Option<Generate>,
    #[command(flatten)]
    options: CompressArgs,
}

/// What `--generate` prints: documents made from the clap definitions at run time, so
/// they never drift from the options the binary takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// The man page (roff), for `man gzfleet`.
    Man,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
}

/// What a command line asks of the program.
#[derive(Debug)]
pub enum Invoked {
    Run(Cli),
    Generate(Generate),
}

/// What the name gzfleet was invoked by asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Personality {
    Gzfleet,
    /// gzip's defaults: the input is removed once its output is complete.
    Gzip,
    Gunzip,
    Zcat,
}

fn personality(argv0: Option<&OsString>) -> Personality {
    let name = argv0
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `gunzip`, `gzfleet-gunzip`, `/usr/local/bin/zcat`, BSD's `gzcat`...
    if name.ends_with("gunzip") {
        Personality::Gunzip
    } else if name.ends_with("gzip") {
        Personality::Gzip
    } else if name.ends_with("zcat") {
        Personality::Zcat
    } else {
        Personality::Gzfleet
    }
}

/// Reads a command line (`argv[0]` included) in whichever form it is written.
pub fn parse_from(argv: Vec<OsString>) -> Result<Cli, clap::Error> {
    invoke_from(argv).map(|invoked| match invoked {
        Invoked::Run(cli) => cli,
        Invoked::Generate(_) => Cli {
            license: false,
            command: Command::List(ListArgs {
                files: Vec::new(),
                verbose: false,
                name: false,
            }),
        },
    })
}

/// Reads a command line as [`parse_from`] does, `--generate` included.
pub fn invoke_from(argv: Vec<OsString>) -> Result<Invoked, clap::Error> {
    let personality = personality(argv.first());
    let first = argv.get(1).and_then(|a| a.to_str());
    if personality == Personality::Gzfleet && first.is_some_and(|a| SUBCOMMANDS.contains(&a)) {
        let matches = Cli::command().try_get_matches_from(argv)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let (Command::Compress(args), Some(("compress", sub))) =
            (&mut cli.command, matches.subcommand())
        {
            resolve_level(args, sub);
        }
        return Ok(Invoked::Run(cli));
    }
    let matches = gzip_form().try_get_matches_from(argv)?;
    let mut form = GzipForm::from_arg_matches(&matches)?;
    if let Some(kind) = form.generate {
        return Ok(Invoked::Generate(kind));
    }
    resolve_level(&mut form.options, &matches);
    if matches!(personality, Personality::Gunzip | Personality::Zcat) {
        form.decompress = true;
    }
    if personality == Personality::Zcat {
        form.options.stdout = true;
    }
    // gzip removes each input once its output is complete, unless -k or -c: under
    // its names, so does gzfleet (scripts expect `gzip f; gzip -d f.gz` to leave one
    // file); under its own, it keeps them unless --rm.
    let o = &mut form.options;
    if matches!(personality, Personality::Gzip | Personality::Gunzip) && !o.keep && !o.stdout {
        o.rm = true;
    }
    Ok(Invoked::Run(Cli {
        license: form.license,
        command: form.into_command(),
    }))
}

/// Reads this process's command line.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os().collect())
}

/// Reads this process's command line, `--generate` included.
pub fn invoke() -> Result<Invoked, clap::Error> {
    invoke_from(std::env::args_os().collect())
}

/// gzip's form as clap reads it, `-h` cut to one screen.
fn gzip_form() -> clap::Command {
    crate::short_help::shorten(GzipForm::command())
}

/// The whole command line, both forms: gzip's options and the subcommands, each with
/// its own. What the man page and the completions are made from.
pub fn command() -> clap::Command {
    Cli::command()
        .get_subcommands()
        .fold(gzip_form(), |cmd, sub| {
            cmd.subcommand(sub.clone().display_name(sub.get_name()))
        })
}

impl GzipForm {
    /// The mode gzip would pick: -l, then -t, then -d, else compress.
    fn into_command(self) -> Command {
        let o = self.options;
        if self.list {
            let files = if o.files.is_empty() {
                vec!["-".into()]
            } else {
                o.files
            };
            return Command::List(ListArgs {
                files,
                verbose: o.verbose > 0,
                name: o.name,
            });
        }
        if self.test {
            return Command::Test(TestArgs {
                files: o.files,
                force: o.force,
                quiet: o.quiet,
                verbose: o.verbose > 0,
                processes: o.processes,
                index_file: None,
            });
        }
        if self.decompress {
            return Command::Decompress(DecompressArgs {
                files: o.files,
                stdout: o.stdout,
                output: o.output,
                force: o.force,
                keep: o.keep,
                rm: o.rm,
                recursive: o.recursive,
                suffix: o.suffix,
                name: o.name,
                no_name: o.no_name,
                quiet: o.quiet,
                verbose: o.verbose > 0,
                processes: o.processes,
                index_file: None,
                offset: None,
                length: None,
            });
        }
        Command::Compress(Box::new(o))
    }
}

/// The level from -0..-9, --fast, --best and --level: the last one given wins, as in
/// gzip (`-9 -1` is level 1), which clap alone cannot say across different flags.
fn resolve_level(args: &mut CompressArgs, matches: &ArgMatches) {
    const FLAGS: [(&str, u32); 12] = [
        ("l0", 0),
        ("l1", 1),
        ("l2", 2),
        ("l3", 3),
        ("l4", 4),
        ("l5", 5),
        ("l6", 6),
        ("l7", 7),
        ("l8", 8),
        ("l9", 9),
        ("fast", 1),
        ("best", 9),
    ];
    let given = |id: &str| {
        (matches.value_source(id) == Some(ValueSource::CommandLine))
            .then(|| matches.indices_of(id).and_then(Iterator::max))
            .flatten()
    };
    let last_flag = FLAGS
        .iter()
        .filter_map(|&(id, level)| given(id).map(|at| (at, level)))
        .max();
    let level_at = given("level");
    args.level = match (last_flag, level_at) {
        (Some((at, level)), Some(l)) if at > l => Some(level),
        (Some(_), Some(_)) => args.level,
        (Some((_, level)), None) => Some(level),
        (None, _) => args.level,
    };
}

#[cfg(test)]
#[path = "invocation_tests.rs"]
mod tests;
