//! Units as people read and write them: sizes and durations (`512M`, `30m`) for options and
//! config files, and times as RFC 3339 UTC (`2023-11-14T22:13:20Z`) for reports and statements.

/// Splits `"512M"` into `(512, "M")`.
fn number_and_unit(s: &str) -> Option<(u64, &str)> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    Some((num.parse().ok()?, unit.trim()))
}

/// Parses sizes like `512M`, `2G`, `1048576`, `64KiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (n, unit) = number_and_unit(s).ok_or_else(|| format!("not a size: {s:?} (try 512M or 2G)"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("unknown size unit in {s:?} (use K, M, G or T)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

/// Parses durations like `90`, `90s`, `30m`, `2h`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (n, unit) =
        number_and_unit(s).ok_or_else(|| format!("not a duration: {s:?} (try 90s, 30m or 2h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("unknown duration unit in {s:?} (use s, m or h)")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Seconds since the epoch as RFC 3339 UTC (`2023-11-14T22:13:20Z`), for any i64.
pub fn unix_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A timestamp shown with its raw value: `2023-11-14T22:13:20Z (1700000000)`.
pub fn timestamp(secs: i64) -> String {
    format!("{} ({secs})", unix_time(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(parse_duration("30m"), Ok(std::time::Duration::from_secs(1800)));
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn formats_unix_times() {
        assert_eq!(unix_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(unix_time(-1), "1969-12-31T23:59:59Z");
        assert_eq!(unix_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(315_532_800), "1980-01-01T00:00:00Z (315532800)");
        // Extremes must not panic.
        let _ = unix_time(i64::MAX / 2);
        let _ = unix_time(i64::MIN / 2);
    }
}
