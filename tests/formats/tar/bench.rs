//! The speed bar.

use super::*;

/// The benchmark pair: a tar.gz of 5,000 files (~50 MB) where every mtime differs, the order
/// within each directory is shuffled and one line of one file changed.
/// `cargo test --release --test tar -- --ignored --nocapture benchmark`
#[test]
#[ignore]
fn benchmark_5000_member_tar_gz() {
    let d = tempfile::tempdir().unwrap();
    python(
        d.path(),
        r#"
import tarfile, io, random
rnd = random.Random(7)
words = [''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rnd.randint(2, 9))) for _ in range(3000)]
pool = [' '.join(rnd.choice(words) for _ in range(12)) for _ in range(4000)]
files = {}
for d in range(50):
    for f in range(100):
        lines = [f'file {d} {f}'] + rnd.sample(pool, 130)
        files[f'pkg/dir{d:02}/file{f:03}.txt'] = ('\n'.join(lines) + '\n').encode()
changed = 'pkg/dir17/file042.txt'
def write(path, seed, base, change):
    r = random.Random(seed)
    with tarfile.open(path, 'w:gz', compresslevel=6, format=tarfile.GNU_FORMAT) as t:
        for d in range(50):
            names = [n for n in files if n.startswith(f'pkg/dir{d:02}/')]
            r.shuffle(names)
            for i, n in enumerate(names):
                data = files[n]
                if change and n == changed:
                    data = data.replace(b'\n', b' CHANGED\n', 2).replace(b' CHANGED\n', b'\n', 1)
                ti = tarfile.TarInfo(n); ti.size = len(data); ti.mtime = base + d * 100 + i
                t.addfile(ti, io.BytesIO(data))
write('a.tar.gz', 1, 1700000000, False)
write('b.tar.gz', 2, 1700500000, True)
"#,
    );
    let (a, b) = (d.path().join("a.tar.gz"), d.path().join("b.tar.gz"));
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let c = compare(&a, &b);
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(c);
    }
    let c = last.unwrap();
    let r = root(&c);
    // python's tarfile stores the name in the gzip header.
    let tar = node(r, "a.tar");
    assert_eq!(tar.format.as_deref(), Some("tar"));
    let changed = node(tar, "pkg/dir17/file042.txt");
    assert!(has_text_diff(changed, "CHANGED"), "{changed:#?}");
    assert!(tar.changes.iter().any(|c| matches!(c, Change::Order { .. })));
    assert_eq!(tar.children.len(), 5000);
    println!(
        "benchmark: {} + {} bytes compressed, {} nodes, best of 5: {best:.3} s",
        size(&a),
        size(&b),
        r.count()
    );
}
