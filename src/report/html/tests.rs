use super::tree::{Row, side_by_side};
use super::*;
use crate::check::Verdict;
use crate::compare::{Change, Node, Sides, text};
use crate::report::fixtures::{EVIL, check_report, comparison, evil_tree};

/// The attributes of a tag (`<name a="x" b>`, without its `>`), as (name, value).
fn attributes(tag: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = tag.trim_start_matches('<');
    rest = rest.trim_start_matches(|c: char| !c.is_whitespace());
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return out;
        }
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..end];
        rest = &rest[end..];
        match rest.strip_prefix("=\"") {
            Some(v) => {
                let close = v.find('"').expect("attribute values are quoted and closed");
                out.push((name, &v[..close]));
                rest = &v[close + 1..];
            }
            None => out.push((name, "")),
        }
    }
}

/// Asserts the page runs nothing and fetches nothing: every raw `<` starts a tag (text is
/// escaped), and no tag may load, link out or run.
fn assert_inert(page: &str) {
    let lower = page.to_lowercase();
    let mut tags = 0;
    for (i, _) in lower.match_indices('<') {
        let tag = &lower[i..];
        let tag = &tag[..tag.find('>').expect("every tag is closed")];
        tags += 1;
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!' || *c == '/')
            .collect();
        assert!(
            ![
                "script", "img", "link", "iframe", "object", "embed", "svg", "base", "form", "audio", "video"
            ]
            .contains(&name.as_str()),
            "a <{name}> element in the page: {tag}"
        );
        assert!(!tag.contains(" src="), "a src attribute: {tag}");
        for (attr, value) in attributes(tag) {
            assert!(!attr.starts_with("on"), "an event handler: {tag}");
            assert!(
                attr != "style" && attr != "src" && attr != "srcset",
                "{attr}: {tag}"
            );
            if attr == "href" {
                assert!(value.starts_with('#'), "a link out of the page: {tag}");
            }
        }
        if name == "meta" && tag.contains("http-equiv") {
            assert!(
                tag.contains("content-security-policy"),
                "another http-equiv: {tag}"
            );
        }
    }
    assert!(tags > 10);
    assert!(!lower.contains("url("), "a CSS url() in the page");
    assert!(!lower.contains("@import"), "a CSS import in the page");
}

#[test]
fn escapes_markup_and_control_characters() {
    assert_eq!(
        escape("<a href=\"x\">&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(
        escape("a\0b\rc\u{7f}\u{85}"),
        "a\u{2400}b\u{240d}c\u{2421}\u{fffd}"
    );
    assert_eq!(escape("tab\tand\nnewline ✓"), "tab\tand\nnewline ✓");
    let cut = clipped(&"x".repeat(30), 10);
    assert!(
        cut.starts_with(&"x".repeat(10)) && cut.contains("20 more characters"),
        "{cut}"
    );
    assert_eq!(clipped("<é>", 3), "&lt;é&gt;");
}

#[test]
fn diff_page_has_the_policy_and_no_scripts_or_fetches() {
    let page = diff(&comparison(Some(evil_tree())));
    assert!(page.starts_with("<!DOCTYPE html>"));
    let csp = format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">");
    assert!(page.contains(&csp), "no CSP meta");
    assert!(CSP.starts_with("default-src 'none'"));
    assert!(
        page.find(&csp) < page.find("<style>"),
        "the policy must come before anything it governs"
    );
    assert_inert(&page);
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "name escaped"
    );
    assert!(
        page.contains("&lt;<mark>img src=x onerror=alert(1)</mark>&gt;"),
        "text escaped"
    );
    assert!(page.contains("&lt;/td&gt;&lt;script&gt;"), "strings escaped");
    assert!(page.contains("&lt;b&gt;bold&lt;/b&gt; note"), "notes escaped");
    assert!(page.contains("a/&lt;b&gt;.tar"), "input path escaped");
    assert!(
        page.contains("x ▸ &lt;i&gt;skipped&lt;/i&gt;"),
        "exclusions escaped"
    );
}

#[test]
fn diff_page_leads_with_the_summary() {
    let page = diff(&comparison(Some(evil_tree())));
    let verdict = page.find("id=\"verdict\">different<").expect("verdict");
    let counts = page.find("differing nodes").expect("counts");
    let tree = page.find("<details class=\"node\"").expect("tree");
    assert!(verdict < counts && counts < tree);
    assert!(page.contains("only in b"), "an added member says so");
    // The root is open, and so are the small nodes near it.
    assert!(page.contains("<details class=\"node\" open>"));
    let same = diff(&comparison(None));
    assert!(same.contains(">identical<") && !same.contains("class=\"node\""));
}

#[test]
fn text_diffs_are_side_by_side() {
    let rows = side_by_side("@@ -1,4 +1,3 @@\n a\n-b\n-c\n+B\n d\n\\ No newline at end of file\n");
    assert_eq!(
        rows,
        vec![
            Row::Hunk("@@ -1,4 +1,3 @@"),
            Row::Pair {
                a: Some((Some(1), "a")),
                b: Some((Some(1), "a")),
                context: true
            },
            Row::Pair {
                a: Some((Some(2), "b")),
                b: Some((Some(2), "B")),
                context: false
            },
            Row::Pair {
                a: Some((Some(3), "c")),
                b: None,
                context: false
            },
            Row::Pair {
                a: Some((Some(4), "d")),
                b: Some((Some(3), "d")),
                context: true
            },
            Row::Note("\\ No newline at end of file"),
        ]
    );
    // Only additions, and no hunk header to number from.
    assert_eq!(
        side_by_side("+x\n"),
        vec![Row::Pair {
            a: None,
            b: Some((None, "x")),
            context: false
        }]
    );
    let page = diff(&comparison(Some(evil_tree())));
    // The changed line pair is one row: removed on the left, added on the right, the
    // differing part marked.
    assert!(
        page.contains(
            "<tr><td class=\"ln\">2</td><td class=\"del\">&lt;<mark>script&gt;alert(&#39;x&#39;)&lt;/script</mark>&gt;</td>\
             <td class=\"ln\">2</td><td class=\"ins\">&lt;<mark>img src=x onerror=alert(1)</mark>&gt;</td></tr>"
        ),
        "{page}"
    );
    assert!(page.contains("<td class=\"ln\">1</td><td>keep</td><td class=\"ln\">1</td><td>keep</td>"));
}

#[test]
fn hexdumps_are_side_by_side_with_the_differing_bytes_marked() {
    let page = diff(&comparison(Some(evil_tree())));
    assert!(page.contains("<table class=\"hex\">"));
    assert!(
        page.contains("<mark class=\"a\">41</mark>"),
        "byte 20 of a marked"
    );
    assert!(
        page.contains("<mark class=\"b\">3c</mark>"),
        "byte 20 of b marked"
    );
    assert!(
        page.contains("<mark class=\"b\">&lt;</mark>"),
        "its ASCII marked and escaped"
    );
    assert_eq!(
        page.matches("<mark class=\"a\">").count(),
        2,
        "only the one byte (hex + ASCII)"
    );
    // A hexdump not in our form is shown as it is, escaped.
    let mut n = Node::new("x");
    n.changes.push(Change::Bytes {
        first_offset: 0,
        differing_bytes: 1,
        hexdump: Sides::new("<garbage>".into(), "zz".into()),
    });
    let page = diff(&comparison(Some(n)));
    assert!(page.contains("&lt;garbage&gt;"));
}

#[test]
fn large_trees_are_capped_and_say_so() {
    // Members with content differences (metadata-only ones would be folded).
    let member = |name: String, i: usize| {
        let mut c = Node::new(name);
        c.changes.push(Change::field("mtime", i, i + 1));
        c.changes.push(Change::note("content differs"));
        c
    };
    let mut root = Node::new("big");
    for i in 0..5_000 {
        root.children.push(member(format!("m{i}"), i));
    }
    let limits = Limits {
        nodes: 100,
        ..Limits::default()
    };
    let page = diff_with(&comparison(Some(root.clone())), &limits);
    assert_eq!(page.matches("<details class=\"node\"").count(), 100);
    assert!(
        page.contains("This page is cut to stay readable: 4901 differing nodes"),
        "capped note"
    );
    assert!(page.contains("… 4901 more differing nodes not shown"));
    // With the default limits a huge tree still makes a bounded page.
    for i in 0..20_000 {
        root.children.push(member(format!("n{i}"), i));
    }
    let page = diff(&comparison(Some(root)));
    assert!(page.len() < 8 << 20, "{} bytes", page.len());
    assert!(page.contains("This page is cut"));

    // A long text diff stops at its row limit.
    let a: String = (0..2_000).map(|i| format!("line {i}\n")).collect();
    let b: String = (0..2_000).map(|i| format!("LINE {i}\n")).collect();
    let mut t = Node::new("t.txt");
    t.changes.push(text::unified(&a, &b, 100_000).expect("differ"));
    let limits = Limits {
        rows_per_diff: 50,
        ..Limits::default()
    };
    let page = diff_with(&comparison(Some(t)), &limits);
    assert!(page.contains("more lines of this diff not shown"));
    assert!(page.matches("<td class=\"del\">").count() <= 50);
    assert!(page.contains("This page is cut"));
    // One enormous line is cut too.
    let mut t = Node::new("min.js");
    t.changes
        .push(text::unified(&"x".repeat(100_000), &"y".repeat(100_000), 10).expect("differ"));
    let page = diff(&comparison(Some(t)));
    assert!(page.len() < 50_000, "{} bytes", page.len());
    assert!(page.contains("98000 more characters"));
}

#[test]
fn check_page_leads_with_verdict_culprits_and_findings() {
    let page = check(&check_report());
    assert_inert(&page);
    let verdict = page.find("id=\"verdict\">NOT reproducible<").expect("verdict");
    let culprits = page.find("id=\"culprits\"").expect("culprits");
    let findings = page.find("id=\"findings\"").expect("findings");
    let runs = page.find("id=\"runs\"").expect("runs");
    let tree = page.find("<details class=\"node\"").expect("tree");
    assert!(verdict < culprits && culprits < findings && findings < runs && runs < tree);
    let source = page
        .find("id=\"source\"")
        .expect("the working tree's differences");
    assert!(source < runs);
    assert!(
        page.contains("untracked <span class=\"mono\">new` **x** \\xff&lt;b&gt;</span>"),
        "source paths escaped"
    );
    assert!(page.contains("UNISOLATED"), "the local backend is called out");
    assert!(
        !page.contains("UNPINNED"),
        "the local backend has no image to pin"
    );
    let mut docker = check_report();
    (docker.backend, docker.isolated) = ("docker".into(), true);
    let docker_page = check(&docker);
    assert!(docker_page.contains("UNPINNED") && !docker_page.contains("UNISOLATED"));
    assert!(page.contains("1700000000</span> (2023-11-14T22:13:20Z, from the last commit)"));
    for v in ["time", "build-path", "locale"] {
        assert!(
            page.contains(&format!("<span class=\"badge bad\">{v}</span>")),
            "culprit {v}"
        );
    }
    // Culprit sets per artifact, as alternatives.
    assert!(
        page.contains(
            "<span class=\"badge bad\">build-path</span> + <span class=\"badge bad\">locale</span>"
        )
    );
    assert!(page.contains("<span class=\"muted\">or</span>"));
    // The finding: code with its docs anchor, symptom, where, evidence escaped, hint.
    assert!(page.contains("docs/diagnostics.md#build-path"));
    assert!(page.contains("docs/diagnostics.md#content"));
    assert!(page.contains("run A has <code>/build/a</code> where run B has <code>/build/&lt;b&gt;</code>"));
    assert!(page.contains("map the build directory away: gcc/clang <code>-ffile-prefix-map=$PWD=.</code>"));
    assert!(page.contains(&format!("out/{}.tar.gz ▸ in.tar ▸ dir/x.txt", escape(EVIL))));
    assert!(page.contains("docs/diagnostics.md#build-failure") && page.contains("exit 2 &lt;stderr&gt;"));
    assert!(page.contains("a &lt;note&gt;") && page.contains("/src/&lt;proj&gt;"));
    assert!(page.contains("make &lt;all&gt;") && page.contains("cc -o &lt;out&gt;"));
    // Differing artifacts link to their trees, labelled with the runs.
    assert!(page.contains("<a href=\"#artifact-1\">"));
    assert!(page.contains("id=\"artifact-1\""));
    assert!(page.contains("<th>run A</th><th>run B</th>"));
    assert!(page.contains("only in run B"));
    assert!(
        page.find("out/same.bin") > page.find("<a href=\"#artifact-1\">"),
        "differing first"
    );
}

#[test]
fn reproducible_check_page_is_short_and_green() {
    let mut r = check_report();
    r.verdict = Verdict::Reproducible;
    r.artifacts.retain(|a| a.reproducible);
    r.findings.clear();
    r.build_findings.clear();
    r.culprits.clear();
    r.isolation = None;
    r.isolated = true;
    r.backend = "docker".into();
    let page = check(&r);
    assert!(page.contains("class=\"verdict good\" id=\"verdict\">reproducible<"));
    assert!(!page.contains("UNISOLATED") && !page.contains("id=\"findings\""));
    assert!(!page.contains("id=\"differences\""));
    assert_inert(&page);
}

#[test]
fn a_deep_wide_tree_renders_quickly_and_bounded() {
    // 200 directories of 500 members: every rendered summary line counts its subtree, which
    // must stay cheap.
    let mut root = Node::new("root");
    for d in 0..200 {
        let mut dir = Node::new(format!("d{d}"));
        for m in 0..500 {
            let mut c = Node::new(format!("m{m}"));
            c.changes.push(Change::field("mode", "0644", "0664"));
            c.changes.push(Change::note("content differs"));
            dir.children.push(c);
        }
        root.children.push(dir);
    }
    let started = std::time::Instant::now();
    let page = diff(&comparison(Some(root)));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(page.contains("10000+ differing inside"));
    assert!(page.contains("This page is cut"));
    assert_eq!(
        page.matches("<details class=\"node\"").count(),
        Limits::default().nodes
    );
}

#[test]
fn many_siblings_differing_in_the_same_fields_are_folded() {
    let mut root = Node::new("app.tar");
    for i in 0..100 {
        let mut c = Node::new(format!("src/f{i}.c"));
        c.changes.push(Change::field("mtime", "1700000000", "1700086400"));
        root.children.push(c);
    }
    for name in ["bin/x", "bin/y"] {
        let mut c = Node::new(name);
        c.changes.push(Change::field("mode", "0755", "0775"));
        root.children.push(c);
    }
    let mut content = Node::new("README");
    content
        .changes
        .push(text::unified("a\n", "b\n", 10).expect("differ"));
    root.children.push(content);
    let page = diff(&comparison(Some(root)));
    assert!(page.contains("100 members differ only in mtime"), "{page}");
    assert!(page.contains("for example <span class=\"mono\">src/f0.c</span>"));
    assert!(page.contains("<li>src/f99.c</li>"), "every folded name is listed");
    // Small groups stay nodes; content differences come first.
    assert_eq!(
        page.matches("<details class=\"node\"").count(),
        4,
        "root, README, bin/x, bin/y"
    );
    assert!(page.find("README") < page.find("100 members differ"));
    assert!(!page.contains("This page is cut"));
}

#[test]
fn the_top_of_a_large_tree_is_open_and_the_rest_closed() {
    let mut tar = Node::new("app.tar").with_format("tar");
    for i in 0..500 {
        let mut c = Node::new(format!("f{i}.txt"));
        c.changes
            .push(text::unified(&format!("{i}\n"), "x\n", 10).expect("differ"));
        tar.children.push(c);
    }
    let mut root = Node::new("app.tar.gz").with_format("gzip");
    root.children.push(tar);
    let page = diff(&comparison(Some(root)));
    let open = page.matches("<details class=\"node\" open>").count();
    let closed = page.matches("<details class=\"node\">").count();
    assert!((50..=70).contains(&open), "{open} open");
    assert_eq!(open + closed, 502);
    // The container on the way to the differences is open although its subtree is large.
    assert!(page.contains("<details class=\"node\" open><summary title=\"app.tar.gz ▸ app.tar\">"));
}

#[test]
fn marks_what_differs() {
    use super::tree::marked;
    assert_eq!(
        marked("2023-11-14 (1700000000)", "2023-11-15 (1700086400)", 100),
        "2023-11-1<mark>4</mark> (17000<mark>000</mark>00)"
    );
    assert_eq!(marked("a<b", "a>b", 100), "a<mark>&lt;</mark>b");
    assert_eq!(
        marked("keep x tail", "keep yyy tail", 100),
        "keep <mark>x</mark> tail"
    );
    assert_eq!(marked("same", "same", 100), "same");
    assert_eq!(marked("ab", "abb", 100), "ab");
    assert!(marked(&"x".repeat(50), &"y".repeat(50), 10).contains("40 more characters"));
}
