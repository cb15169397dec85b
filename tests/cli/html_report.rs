//! The HTML report in a real browser: `repro diff --html` on inputs made here, rendered by
//! headless Chromium (Debian's `chromium`; `.ci/run` installs it). The rendered DOM must carry
//! the summary and no live markup from the inputs, and a screenshot must not be blank.

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, sh};

/// The escaped form of the fixture's file name that is markup.
const MARKUP_NAME: &str = "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;script&gt;.txt";

/// Most time one Chromium call may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// Two directories that differ in a text file, a binary file, a tar.gz member's mtime and a file
/// whose name is markup.
fn fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        "mkdir -p a b src
         printf 'one\\ntwo\\nthree\\n' > a/notes.txt; printf 'one\\nTWO <b>bold</b>\\nthree\\n' > b/notes.txt
         head -c 200 /dev/zero > a/blob.bin; { head -c 100 /dev/zero; printf 'XY'; head -c 98 /dev/zero; } > b/blob.bin
         echo old > 'a/<img src=x onerror=alert(1)><script>alert(2)<script>.txt'
         echo new > 'b/<img src=x onerror=alert(1)><script>alert(2)<script>.txt'
         echo payload > src/f
         tar --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -cf - -C src f | gzip -n > a/app.tar.gz
         tar --mtime=@1700086400 --owner=0 --group=0 --numeric-owner -cf - -C src f | gzip -n > b/app.tar.gz",
    );
    d
}

/// Runs Chromium headless with `args` on `url`, returning its stdout; panics on failure or
/// after the timeout (killing it).
pub(crate) fn chromium(work: &Path, args: &[&str], url: &str) -> String {
    let exe = std::env::var("REPRO_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let version = Command::new(&exe).arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "the HTML report test needs Chromium: install Debian's `chromium` (apt-get install -y chromium; \
         .ci/run does) or point REPRO_CHROMIUM at a Chromium binary ({exe}: {version:?})"
    );
    let out_path = work.join("chromium.out");
    let err_path = work.join("chromium.err");
    let mut child = Command::new(&exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", work.join("profile").display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("starting chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium ran past {CHROMIUM_TIMEOUT:?} and was killed; its stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium failed ({status}); its stderr:\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    std::fs::read_to_string(&out_path).unwrap()
}

/// Share of pixels that differ from the most common colour.
fn non_background_share(png_path: &Path) -> (u32, u32, f64) {
    let file = std::io::BufReader::new(std::fs::File::open(png_path).expect("the screenshot exists"));
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let bytes = &buf[..info.buffer_size()];
    let bpp = info.line_size / info.width as usize;
    assert!(bpp > 0, "sub-byte pixels: {info:?}");
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for row in bytes.chunks(info.line_size) {
        for px in row.chunks(bpp) {
            *counts.entry(px).or_default() += 1;
        }
    }
    let total: usize = counts.values().sum();
    let most = counts.values().copied().max().unwrap_or(0);
    (info.width, info.height, 1.0 - most as f64 / total as f64)
}

#[test]
fn diff_html_report_renders_in_a_browser() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let report = d.path().join("report.html");
    let (code, out, err) = run(&["diff", "--html", &p("report.html"), &p("a"), &p("b")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("--- "),
        "the text report still goes to stdout: {out}"
    );
    let html = std::fs::read_to_string(&report).expect("the HTML report was written");
    assert!(html.contains("Content-Security-Policy"));
    assert!(
        !html.to_lowercase().contains("<script"),
        "markup from a file name is live"
    );
    assert!(html.contains(MARKUP_NAME));

    let url = format!("file://{}", report.display());
    let dom = chromium(d.path(), &["--dump-dom"], &url);
    assert!(dom.contains("<h2>Summary</h2>"), "no summary in the DOM:\n{dom}");
    assert!(
        dom.contains("id=\"verdict\">different</span>"),
        "no verdict in the DOM"
    );
    for path in ["notes.txt", "blob.bin", "app.tar.gz", &p("a")] {
        assert!(dom.contains(path), "{path} is not in the DOM");
    }
    assert!(!dom.contains("<script"), "a script element made it into the DOM");
    assert!(!dom.contains("<img"), "an img element made it into the DOM");
    assert!(dom.contains(MARKUP_NAME), "the name shows as text");
    assert!(
        dom.contains("TWO &lt;b&gt;bold&lt;/b&gt;"),
        "the diff line shows as text"
    );
    assert!(!dom.contains("<b>bold</b>"));
    assert!(dom.contains("<table class=\"sbs\">") && dom.contains("<table class=\"hex\">"));
    assert!(
        dom.contains("<details class=\"node\" open=\"\">"),
        "the tree opens at the top"
    );

    let shot = d.path().join("shot.png");
    chromium(
        d.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,900",
        ],
        &url,
    );
    let (w, h, share) = non_background_share(&shot);
    assert_eq!((w, h), (1200, 900), "screenshot size");
    assert!(
        share >= 0.02,
        "the screenshot is (nearly) blank: only {:.2}% of pixels differ from the background",
        share * 100.0
    );

    // The measure tells a blank page apart: an empty page under the same policy is below it.
    let blank = d.path().join("blank.html");
    let head = html.split("<body>").next().expect("a head");
    std::fs::write(&blank, format!("{head}<body></body></html>")).unwrap();
    let blank_shot = d.path().join("blank.png");
    chromium(
        d.path(),
        &[
            &format!("--screenshot={}", blank_shot.display()),
            "--window-size=1200,900",
        ],
        &format!("file://{}", blank.display()),
    );
    let (_, _, blank_share) = non_background_share(&blank_shot);
    assert!(blank_share < 0.02, "a blank page measured {blank_share}");
}

#[test]
fn html_report_of_identical_inputs_says_so() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, _, err) = run(&["diff", "--html", &p("same.html"), &p("a"), &p("a")]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(p("same.html")).unwrap();
    assert!(html.contains("id=\"verdict\">identical<"));
    assert!(!html.contains("class=\"node\""));
}

#[test]
fn check_html_report_renders_in_a_browser() {
    // The local backend needs no engine: a build that records its own directory is not
    // reproducible under the build-path variation.
    let d = tempfile::tempdir().unwrap();
    let project = d.path().join("proj");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("build.sh"),
        "mkdir -p out; pwd > out/where; echo same > out/same\n",
    )
    .unwrap();
    let report = d.path().join("check.html");
    let (code, out, err) = run(&[
        "check",
        "--local",
        "--source-date-epoch",
        "1700000000",
        "--html",
        &report.display().to_string(),
        &project.display().to_string(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let url = format!("file://{}", report.display());
    let dom = chromium(d.path(), &["--dump-dom"], &url);
    assert!(
        dom.contains("id=\"verdict\">NOT reproducible</span>"),
        "no verdict in the DOM:\n{dom}"
    );
    assert!(dom.contains("UNISOLATED"), "the local backend is not called out");
    assert!(
        dom.contains("<span class=\"badge bad\">build-path</span>"),
        "no culprit"
    );
    assert!(dom.contains("docs/diagnostics.md#build-path"), "no finding code");
    assert!(dom.contains("out/where") && dom.contains("out/same"));
    assert!(!dom.contains("<script"));
}
