//! The lines of `list`, laid out as gzip 1.12's `-l` and `-lv` lay them out, character
//! for character, so that scripts which cut its columns work on ours: 19-wide size
//! columns, gzip's ratio (the share saved, header and trailer left out), and with -v
//! the method, CRC-32 and the date in the local time zone.

use std::fmt::Write as _;

/// Width of gzip's size columns: the digits of the largest off_t.
const WIDTH: usize = 19;

/// One file's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// gzip's five letters for how the data is stored ("defla").
    pub method: &'static str,
    /// None where gzip 1.12 has none (the formats other than gzip's), which it prints
    /// as its 64-bit "unknown", ffffffffffffffff: printed so here too, so that the
    /// columns after it stand where gzip's do.
    pub crc: Option<u32>,
    /// Seconds since the epoch of the date shown (None: unknown, printed as gzip does).
    pub mtime: Option<i64>,
    /// Bytes read, trailing bytes included: the file's size.
    pub compressed: u64,
    pub uncompressed: u64,
    /// Bytes of the file that are not data (header and trailer), which gzip's ratio
    /// leaves out; gzip counts them for a single member only.
    pub overhead: u64,
    pub name: String,
}

/// The column titles, printed before the first row.
pub(crate) fn header(verbose: bool) -> String {
    let mut s = String::new();
    if verbose {
        s.push_str("method  crc     date  time  ");
    }
    let _ = write!(
        s,
        "{:>WIDTH$} {:>WIDTH$}  ratio uncompressed_name",
        "compressed", "uncompressed"
    );
    s
}

pub(crate) fn row(r: &Row, verbose: bool) -> String {
    let mut s = String::new();
    if verbose {
        let crc = r.crc.map_or_else(|| "f".repeat(16), |c| format!("{c:08x}"));
        let _ = write!(s, "{} {crc} {}", r.method, date(r.mtime));
    }
    let saved = r.uncompressed as i128 - (r.compressed as i128 - r.overhead as i128);
    let _ = write!(
        s,
        "{:>WIDTH$} {:>WIDTH$} {} {}",
        r.compressed,
        r.uncompressed,
        ratio(saved, r.uncompressed),
        r.name
    );
    s
}

/// The sums of several files. As gzip's, its ratio leaves out the overhead of the
/// last file listed only, so that a list of one file would repeat that file's ratio.
pub(crate) fn totals(
    compressed: u64,
    uncompressed: u64,
    last_overhead: u64,
    verbose: bool,
) -> String {
    let pad = if verbose {
        " ".repeat(28)
    } else {
        String::new()
    };
    let saved = uncompressed as i128 - (compressed as i128 - last_overhead as i128);
    format!(
        "{pad}{compressed:>WIDTH$} {uncompressed:>WIDTH$} {} (totals)",
        ratio(saved, uncompressed)
    )
}

/// printf's "%5.1f%%" of the share `saved` is of `of` (0 of nothing).
fn ratio(saved: i128, of: u64) -> String {
    let r = match of {
        0 => 0.0,
        _ => 100.0 * saved as f64 / of as f64,
    };
    format!("{r:5.1}%")
}

/// "Mar  5 07:08 " in the local time zone (TZ), or gzip's question marks when the
/// time cannot be converted.
fn date(mtime: Option<i64>) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match mtime.and_then(local_time) {
        Some(tm) => format!(
            "{}{:3} {:02}:{:02} ",
            MONTHS[tm.tm_mon.clamp(0, 11) as usize],
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min
        ),
        None => "??? ?? ??:?? ".into(),
    }
}

/// The C library's localtime, so TZ and the zone files mean what they mean to gzip.
fn local_time(secs: i64) -> Option<libc::tm> {
    // 64 bits on every target gzfleet builds for.
    let t: libc::time_t = secs;
    // SAFETY: localtime_r writes only into `tm`, which lives through the call; an
    // all-zero tm is a valid value of the C struct.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        (!libc::localtime_r(&t, &mut tm).is_null()).then_some(tm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, compressed: u64, uncompressed: u64, overhead: u64) -> Row {
        Row {
            method: "defla",
            crc: Some(0xaf083b2d),
            mtime: Some(1_678_000_089),
            compressed,
            uncompressed,
            overhead,
            name: name.into(),
        }
    }

    // Expected lines are gzip 1.12's output for the same files (TZ=UTC).
    #[test]
    fn rows_and_totals_as_gzip_prints_them() {
        assert_eq!(
            header(false),
            "         compressed        uncompressed  ratio uncompressed_name"
        );
        assert_eq!(
            header(true),
            "method  crc     date  time           compressed        uncompressed  ratio uncompressed_name"
        );
        let a = one("a", 34, 12, 20);
        assert_eq!(
            row(&a, false),
            "                 34                  12 -16.7% a"
        );
        assert_eq!(
            totals(215193, 588907, 20, true),
            "                                         215193              588907  63.5% (totals)"
        );
        assert_eq!(
            totals(215227, 24, 0, false),
            "             215227                  24 -896679.2% (totals)"
        );
    }

    #[test]
    fn the_date_is_month_day_and_minute_whatever_the_zone() {
        // The zone is the machine's (changing TZ here would race other tests); the
        // e2e tests compare with gzip under TZ=UTC.
        let line = row(&one("a", 34, 12, 20), true);
        assert!(line.starts_with("defla af083b2d "), "{line}");
        let date = &line.as_bytes()[15..28];
        assert!(date[..3].iter().all(u8::is_ascii_alphabetic), "{line}");
        assert_eq!(&date[3..4], b" ", "{line}");
        assert!(
            date[4..6].iter().all(|&b| b == b' ' || b.is_ascii_digit()),
            "{line}"
        );
        assert_eq!(date[9], b':', "{line}");
        assert_eq!(date[12], b' ', "{line}");
        assert!(line.ends_with("                 34                  12 -16.7% a"));
        let unknown = Row {
            method: "compr",
            crc: None,
            ..one("a", 34, 12, 0)
        };
        assert!(row(&unknown, true).starts_with("compr ffffffffffffffff "));
        assert_eq!(date_of(None), "??? ?? ??:?? ");
        assert_eq!(date_of(Some(i64::MAX)), "??? ?? ??:?? ");
    }

    fn date_of(t: Option<i64>) -> String {
        date(t)
    }

    #[test]
    fn ratios_round_as_printf_does_and_nothing_is_zero() {
        assert_eq!(ratio(0, 0), "  0.0%");
        assert_eq!(ratio(1, 3), " 33.3%");
        assert_eq!(ratio(-2, 12), "-16.7%");
        assert_eq!(ratio(-215_181, 12), "-1793175.0%");
    }
}
