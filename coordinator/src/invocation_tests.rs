//! The forms of the command line, as gzip, gunzip, zcat and tar users write them.

use super::*;

fn parse(argv: &[&str]) -> Cli {
    parse_from(argv.iter().map(Into::into).collect())
        .unwrap_or_else(|e| panic!("{argv:?}: {}", e.render()))
}

#[test]
fn gzip_form_picks_the_mode_as_gzip_does() {
    assert!(matches!(parse(&["gzfleet"]).command, Command::Compress(_)));
    assert!(
        matches!(parse(&["gzfleet", "-p", "2"]).command, Command::Compress(c) if c.processes == Some(2))
    );
    assert!(matches!(
        parse(&["gzfleet", "-d"]).command,
        Command::Decompress(_)
    ));
    assert!(matches!(
        parse(&["gzfleet", "-p", "2", "-d"]).command,
        Command::Decompress(_)
    ));
    assert!(matches!(
        parse(&["gzfleet", "-dt", "f.gz"]).command,
        Command::Test(_)
    ));
    assert!(matches!(
        parse(&["gzfleet", "-l", "f.gz"]).command,
        Command::List(_)
    ));
    match parse(&["gzfleet", "-9c", "a", "b"]).command {
        Command::Compress(c) => {
            assert_eq!(c.level(), 9);
            assert!(c.stdout);
            assert_eq!(c.files, [Path::new("a"), Path::new("b")]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_named_like_a_subcommand_is_reached_with_dashes() {
    match parse(&["gzfleet", "--", "compress"]).command {
        Command::Compress(c) => assert_eq!(c.files, [Path::new("compress")]),
        other => panic!("{other:?}"),
    }
    match parse(&["gzfleet", "compress", "--", "test"]).command {
        Command::Compress(c) => assert_eq!(c.files, [Path::new("test")]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn gunzip_and_zcat_by_name() {
    match parse(&["/usr/bin/gunzip", "f.gz"]).command {
        Command::Decompress(d) => assert!(!d.stdout && d.files == [Path::new("f.gz")]),
        other => panic!("{other:?}"),
    }
    match parse(&["gzfleet-zcat", "f.gz"]).command {
        Command::Decompress(d) => assert!(d.stdout),
        other => panic!("{other:?}"),
    }
    // As gunzip, `compress` is a file name.
    match parse(&["gunzip", "compress"]).command {
        Command::Decompress(d) => assert_eq!(d.files, [Path::new("compress")]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&["gunzip", "-t", "f.gz"]).command,
        Command::Test(_)
    ));
}

#[test]
fn decompress_options_of_the_gzip_form() {
    match parse(&["gzfleet", "-dN", "-S", ".zz", "f.zz"]).command {
        Command::Decompress(d) => {
            assert!(d.name);
            assert_eq!(d.suffix.as_deref(), Some(".zz"));
        }
        other => panic!("{other:?}"),
    }
    match parse(&["gzfleet", "-dNn", "f.gz"]).command {
        Command::Decompress(d) => assert!(!d.name),
        other => panic!("{other:?}"),
    }
}

#[test]
fn license_and_version_anywhere() {
    assert!(parse(&["gzfleet", "-L"]).license);
    assert!(parse(&["gzfleet", "compress", "-L"]).license);
    for argv in [
        &["gzfleet", "-V"][..],
        &["gzfleet", "compress", "-V"],
        &["gzfleet", "decompress", "--version"],
    ] {
        let e = parse_from(argv.iter().map(Into::into).collect()).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion, "{argv:?}");
    }
}

#[test]
fn suffixes_that_cannot_work_are_refused() {
    for bad in ["", "a/b"] {
        assert!(parse_from(["gzfleet", "-S", bad].iter().map(Into::into).collect()).is_err());
    }
}

#[test]
fn both_forms_are_consistent() {
    GzipForm::command().debug_assert();
}

#[test]
fn as_gzip_and_gunzip_inputs_are_removed_unless_k_or_c() {
    let rm = |argv: &[&str]| match parse(argv).command {
        Command::Compress(c) => c.rm,
        Command::Decompress(d) => d.rm,
        other => panic!("{other:?}"),
    };
    assert!(rm(&["/bin/gzip", "f"]));
    assert!(rm(&["gzip", "-d", "f.gz"]));
    assert!(rm(&["gunzip", "f.gz"]));
    assert!(!rm(&["gzip", "-k", "f"]));
    assert!(!rm(&["gzip", "-c", "f"]));
    assert!(!rm(&["gunzip", "-c", "f.gz"]));
    assert!(!rm(&["zcat", "f.gz"]));
    // As itself, gzfleet keeps them.
    assert!(!rm(&["gzfleet", "f"]));
    assert!(!rm(&["gzfleet", "-d", "f.gz"]));
    assert!(!rm(&["gzfleet", "compress", "f"]));
}

#[test]
fn generate_is_read_before_anything_runs() {
    let invoked = invoke_from(["gzfleet", "--generate", "man"].map(Into::into).to_vec());
    assert!(matches!(invoked, Ok(Invoked::Generate(Generate::Man))));
    assert!(invoke_from(["gzfleet", "--generate", "nroff"].map(Into::into).to_vec()).is_err());
    // The whole command holds both forms' options, and clap finds it consistent.
    let cmd = command();
    cmd.clone().debug_assert();
    for sub in ["compress", "decompress", "test", "list", "index"] {
        assert!(cmd.find_subcommand(sub).is_some(), "{sub}");
    }
}
