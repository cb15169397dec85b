#!/usr/bin/env python3
"""Detection parity: does repro report every archive member that diffoscope reports?

usage: diffoscope-parity.py [--pair NAME] [--verbose] DIFFOSCOPE.json REPRO.json
       diffoscope-parity.py --self-test

Lists every node of diffoscope's JSON report whose source1/source2 is a path inside an
archive (a member path) and checks that each one appears as a node name somewhere in
repro's difference tree. Exit status: 0 all found, 1 something missing, 2 unreadable input.

diffoscope's tree mixes member nodes with pseudo-sources: the output of a command run on
the file (its command line with the file's path replaced by "{}", e.g. "zipinfo {}",
"readelf --wide --sections {}", "procyon -ec {}", "stat {}"), fixed labels ("file list",
"encoding", "filetype from file(1)", ...), and the decompressed stream of a gzip/xz/...
file, which diffoscope names after its container ("payload.tar.gz" -> "payload.tar").
Those say *how* diffoscope looked, not *what* differs, so they are not members; the
decompressed stream is listed separately because repro names it differently ("(gzip)")
or not at all.
"""

import argparse
import json
import os
import sys
import unittest

# Labels diffoscope 240 gives to differences that are not members. Commands are recognised
# by their "{}" placeholder instead of being listed here. Seen on the benchmark corpus:
# "file list" (tar, cpio: the listing with sizes, modes and mtimes); the rest come from
# diffoscope's comparators (source="..." arguments), so a corpus with other formats is
# classified right too.
PSEUDO_SOURCES = frozenset(
    {
        "file list",
        "filetype from file(1)",
        "filetype from diffoscope",
        "encoding",
        "metadata",
        "lsattr",
        "extended file attributes",
        "line order",
        "header",
        "filesystem",
        "Pretty-printed",
        "Image content",
        "Image metadata",
        "Python bytecode",
        "Sphinx inventory",
        "APK Signing Block",
        "GPG header",
        "GPG signature",
        "Files",
        "Checksums-Sha256",
        "openssl pkcs7 -print",
        "openssl smime",
        "objdump",
        "pgpdump",
        "tcpdump",
        "sng",
        "ffprobe",
        "docx2txt",
        "dumpxsb",
        "kbxutil",
        "ocamlobjinfo",
        "ssconvert",
    }
)

# Single-stream compressors whose content diffoscope presents as one member named by
# ArchiveMember.get_compressed_content_name(): the container's basename without this
# extension, or with "-content" appended when the name lacks it.
COMPRESSED_EXTENSIONS = (".gz", ".xz", ".bz2", ".zst", ".lz4", ".lzip", ".vmlinuz", ".uboot", ".deflate")


def is_command(source):
    return "{}" in source


def is_decompressed_stream(source, parent_source):
    if parent_source is None:
        return False
    base = os.path.basename(parent_source)
    if source == base + "-content":
        return True
    return any(base.endswith(ext) and source == base[: -len(ext)] for ext in COMPRESSED_EXTENSIONS)


def normalise(path):
    """Member paths compare without a leading "./" or a trailing "/" (tar writes both ways)."""
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/") or path


def diffoscope_members(doc):
    """(members, streams, pseudo): members as (path, chain of enclosing member paths).

    The root node names the two input files and is not a member.
    """
    members, streams, pseudo = [], [], set()

    def walk(node, parent_source, chain):
        for child in node.get("details") or []:
            sources = []
            for key in ("source1", "source2"):
                s = child.get(key)
                if isinstance(s, str) and s not in sources:
                    sources.append(s)
            next_chain = chain
            for s in sources:
                if is_command(s) or s in PSEUDO_SOURCES:
                    pseudo.add(s)
                elif is_decompressed_stream(s, parent_source):
                    streams.append(s)
                else:
                    members.append((normalise(s), tuple(chain)))
                    next_chain = chain + [normalise(s)]
            walk(child, sources[0] if sources else parent_source, next_chain)

    if not isinstance(doc, dict):
        raise ValueError("diffoscope JSON: top level is not an object")
    walk(doc, doc.get("source1"), [])
    return members, streams, pseudo


def repro_root(doc):
    if isinstance(doc, dict) and isinstance(doc.get("root"), dict):
        return doc["root"]
    if isinstance(doc, dict) and "root" in doc and doc["root"] is None:
        return {"name": "", "children": []}  # repro found the inputs identical
    if isinstance(doc, dict) and "name" in doc:
        return doc
    raise ValueError('repro JSON: no "root" node')


def repro_paths(root):
    """Every node name in repro's tree, mapped to the list of its ancestors' names."""
    found = {}
    stack = [(root, ())]
    while stack:
        node, ancestors = stack.pop()
        name = node.get("name")
        if isinstance(name, str):
            found.setdefault(normalise(name), []).append(ancestors)
            ancestors = ancestors + (normalise(name),)
        for child in node.get("children") or []:
            if isinstance(child, dict):
                stack.append((child, ancestors))
    return found


def is_subsequence(needle, haystack):
    it = iter(haystack)
    return all(any(x == y for y in it) for x in needle)


def repro_reports_difference(root):
    return bool(root.get("changes") or root.get("children") or root.get("fallback")) or root.get(
        "status", "changed"
    ) != "changed"


def check(dio, rep):
    """Returns a result dict; see main() for how it is printed."""
    members, streams, pseudo = diffoscope_members(dio)
    root = repro_root(rep)
    names = repro_paths(root)
    found, nested_elsewhere, missing = [], [], []
    seen = set()
    for path, chain in members:
        if (path, chain) in seen:
            continue
        seen.add((path, chain))
        if path not in names:
            missing.append(path)
        elif any(is_subsequence(chain, anc) for anc in names[path]):
            found.append(path)
        else:
            nested_elsewhere.append(path)
    diffoscope_differs = bool(dio.get("details") or dio.get("unified_diff"))
    return {
        "members": len(seen),
        "found": found,
        "nested_elsewhere": nested_elsewhere,
        "missing": missing,
        "streams": streams,
        "pseudo": sorted(pseudo),
        "repro_nodes": sum(len(v) for v in names.values()),
        "no_difference": diffoscope_differs and not repro_reports_difference(root),
    }


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("diffoscope_json", nargs="?")
    ap.add_argument("repro_json", nargs="?")
    ap.add_argument("--pair", default="", help="label to print")
    ap.add_argument("--verbose", action="store_true", help="also list found members and pseudo-sources")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        prog = unittest.main(argv=[sys.argv[0]], exit=False, verbosity=1)
        return 0 if prog.result.wasSuccessful() else 1
    if not (args.diffoscope_json and args.repro_json):
        ap.error("need DIFFOSCOPE.json and REPRO.json")
    try:
        r = check(load(args.diffoscope_json), load(args.repro_json))
    except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        print(f"{args.pair or 'parity'}: error: {e}", file=sys.stderr)
        return 2
    reported = len(r["found"]) + len(r["nested_elsewhere"])
    ok = not r["missing"] and not r["no_difference"]
    label = args.pair or "parity"
    print(
        f"{label:<10} diffoscope members {r['members']:>5}  repro reports {reported:>5}  "
        f"missing {len(r['missing']):>3}  (repro nodes {r['repro_nodes']}, "
        f"decompressed streams skipped: {', '.join(r['streams']) or 'none'})  {'PASS' if ok else 'FAIL'}"
    )
    for p in r["missing"]:
        print(f"{'':<10}   missing: {p}")
    for p in r["nested_elsewhere"]:
        print(f"{'':<10}   note: {p} is reported, but not under the same enclosing members")
    if r["no_difference"]:
        print(f"{'':<10}   repro's report shows no difference at all, diffoscope's does")
    if args.verbose:
        for p in r["found"]:
            print(f"{'':<10}   found: {p}")
        print(f"{'':<10}   pseudo-sources: {'; '.join(r['pseudo']) or 'none'}")
    return 0 if ok else 1


class SelfTest(unittest.TestCase):
    DIO = {
        "source1": "nested/a/release.tar.gz",
        "source2": "nested/b/release.tar.gz",
        "details": [
            {
                "source1": "release.tar",
                "source2": "release.tar",
                "details": [
                    {"source1": "file list", "source2": "file list", "unified_diff": "@@"},
                    {
                        "source1": "./release-1.0/lib/app.jar",
                        "source2": "./release-1.0/lib/app.jar",
                        "details": [
                            {"source1": "zipinfo -v {}", "source2": "zipinfo -v {}"},
                            {
                                "source1": "com/x/C.class",
                                "source2": "com/x/C.class",
                                "details": [{"source1": "procyon -ec {}", "source2": "procyon -ec {}"}],
                            },
                        ],
                    },
                    {"source1": "old/name.txt", "source2": "new/name.txt", "unified_diff": "@@"},
                ],
            },
            {"source1": "filetype from file(1)", "source2": "filetype from file(1)"},
        ],
    }

    @staticmethod
    def node(name, *children, **extra):
        n = {"name": name, "status": "changed", "children": list(children)}
        n.update(extra)
        return n

    def rep(self, *members):
        n = self.node
        return {"root": n("release.tar.gz", n("(gzip)", *members))}

    def test_classifies_members_streams_and_pseudo_sources(self):
        members, streams, pseudo = diffoscope_members(self.DIO)
        self.assertEqual(
            [m for m, _ in members],
            ["release-1.0/lib/app.jar", "com/x/C.class", "old/name.txt", "new/name.txt"],
        )
        self.assertEqual(dict(members)["com/x/C.class"], ("release-1.0/lib/app.jar",))
        self.assertEqual(streams, ["release.tar"])
        self.assertEqual(
            pseudo, {"file list", "zipinfo -v {}", "procyon -ec {}", "filetype from file(1)"}
        )

    def test_all_found(self):
        n = self.node
        r = check(
            self.DIO,
            self.rep(
                n("release-1.0/lib/app.jar", n("com/x/C.class")),
                n("old/name.txt", status="removed"),
                n("new/name.txt", status="added"),
            ),
        )
        self.assertEqual(r["missing"], [])
        self.assertEqual(r["nested_elsewhere"], [])
        self.assertEqual(r["members"], 4)

    def test_missing_member_is_reported(self):
        n = self.node
        r = check(self.DIO, self.rep(n("release-1.0/lib/app.jar"), n("old/name.txt"), n("new/name.txt")))
        self.assertEqual(r["missing"], ["com/x/C.class"])

    def test_member_under_other_parent_is_found_but_noted(self):
        n = self.node
        r = check(
            self.DIO,
            self.rep(n("release-1.0/lib/app.jar"), n("com/x/C.class"), n("old/name.txt"), n("new/name.txt")),
        )
        self.assertEqual(r["missing"], [])
        self.assertEqual(r["nested_elsewhere"], ["com/x/C.class"])

    def test_empty_repro_tree_when_diffoscope_differs(self):
        r = check({"source1": "a", "source2": "b", "unified_diff": "@@"}, {"root": {"name": "a", "status": "changed"}})
        self.assertTrue(r["no_difference"])

    def test_null_root_means_no_difference(self):
        r = check(self.DIO, {"root": None, "verdict": "identical"})
        self.assertTrue(r["no_difference"])
        self.assertEqual(len(r["missing"]), 4)

    def test_content_suffix_stream_and_plain_root(self):
        dio = {"source1": "x/p.tgz", "details": [{"source1": "p.tgz-content", "details": [{"source1": "m"}]}]}
        members, streams, _ = diffoscope_members(dio)
        self.assertEqual(streams, ["p.tgz-content"])
        self.assertEqual([m for m, _ in members], ["m"])
        self.assertEqual(check(dio, {"name": "p.tgz", "children": [{"name": "m"}]})["missing"], [])

    def test_malformed_inputs(self):
        with self.assertRaises(ValueError):
            check([], {"root": {"name": "a"}})
        with self.assertRaises(ValueError):
            check({"source1": "a"}, {"nodes": []})
        # junk inside the trees is skipped, not a crash
        r = check(
            {"source1": "a", "details": [{"source1": 3}, {"source2": "m", "details": None}]},
            {"root": {"name": "a", "children": ["junk", {"name": 5}, {"name": "m"}]}},
        )
        self.assertEqual(r["missing"], [])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
