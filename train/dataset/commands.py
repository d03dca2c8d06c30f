"""`webslm data ...`: generate, verify, convert, split, import-xlam, stats, gazetteer."""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

from webslm.atomic import check_output
from webslm.domain import DEFAULT_DOMAIN, domain_manifest, load_domain
from webslm.errors import WebslmError


def run_generate(args) -> int:
    from train.dataset.generate import write_generated

    if args.n < 1:
        raise WebslmError(f"-n must be at least 1, got {args.n}")
    check_output(args.out, force=args.force, what="dataset")
    start = time.perf_counter()
    count = write_generated(load_domain(args.domain), args.n, args.seed, args.out, progress=True)
    seconds = time.perf_counter() - start
    print(f"wrote {count} records to {args.out} in {seconds:.1f} s ({count / seconds:.0f} records/s)")
    return 0


def run_verify(args) -> int:
    from train.dataset.verify import verify_files

    count, problems = verify_files(args.files, load_domain(args.domain), progress=True)
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        raise WebslmError(f"{len(problems)} problem(s) in {count} readable record(s) of {len(args.files)} file(s)")
    print(f"ok: {count} records in {len(args.files)} file(s) match the {args.domain} contract")
    return 0


def run_convert(args) -> int:
    from webslm.records import convert_file

    check_output(args.out, inputs=[args.file], force=args.force, what="dataset")
    count = convert_file(args.file, args.out, args.to, load_domain(args.domain).system_prompt)
    print(f"wrote {count} {args.to} records to {args.out}")
    return 0


def run_split(args) -> int:
    from train.dataset.split import split_file

    domain = load_domain(args.domain)
    keep = frozenset()
    if domain.templates_path and domain.templates_path.is_file():
        from train.dataset.templates import load_templates

        keep = frozenset(t["id"] for t in load_templates(domain)["templates"] if t.get("holdout") is False)
    manifest = split_file(args.file, args.out, force=args.force, seed=args.seed, validation=args.validation,
                          holdout_places=args.holdout_places, holdout_templates=args.holdout_templates,
                          keep_templates=keep)
    counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
    reasons = ", ".join(f"{k} {v}" for k, v in manifest["test_reasons"].items())
    print(f"wrote {args.out}/{{train,validation,test}}.jsonl and split.json: {counts} (test: {reasons}; "
          f"{len(manifest['held_out_places'])} places, {len(manifest['held_out_templates'])} templates held out)")
    return 0


def run_import_xlam(args) -> int:
    from webslm.records import write_records
    from train.dataset.xlam import import_xlam

    check_output(args.out, inputs=[args.file], force=args.force, what="dataset")
    records, skipped = import_xlam(args.file, load_domain(args.domain))
    write_records(args.out, records)
    for row in skipped[:args.show_skipped]:
        print(f"skipped {row}", file=sys.stderr)
    if len(skipped) > args.show_skipped:
        print(f"... and {len(skipped) - args.show_skipped} more skipped rows", file=sys.stderr)
    # group reasons by their shape: "tool 'x' is not in domain" and "tool 'y' ..." count together
    reasons = Counter(re.sub(r"'[^']*'|\d+", "…", re.sub(r"\s*\(.*|[:;].*", "", r.reason)) for r in skipped)
    summary = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common())
    print(f"imported {len(records)} records to {args.out}; skipped {len(skipped)}" + (f" ({summary})" if summary else ""))
    return 0


def run_stats(args) -> int:
    from train.dataset.stats import STATS_MANIFEST, write_stats

    check_output(args.out, STATS_MANIFEST, inputs=[args.file], force=args.force, what="stats folder")
    stats = write_stats(args.file, args.out, load_domain(args.domain), args.tokenizer)
    tools = ", ".join(f"{t} {n}" for t, n in stats["tools"].items())
    print(f"{stats['records']} records ({tools}); wrote {args.out}/stats.json, stats.csv, tools.png")
    return 0


def run_gazetteer(args) -> int:
    from train.dataset.gazetteer import FORMAT, write_gazetteer
    from webslm.strict_json import JSONInputError, read_json_object

    root, meta = domain_manifest(args.domain)  # not load_domain: that reads the gazetteer being rebuilt
    spec = meta.get("gazetteer", {})
    curated = args.curated or (root / spec["curated"] if spec.get("curated") else None)
    out = args.out or (root / spec["file"] if spec.get("file") else None)
    if curated is None or out is None:
        raise WebslmError(f"{root / 'domain.json'}: names no gazetteer file and curated file "
                          "(\"gazetteer\": {\"file\": ..., \"curated\": ...}); pass --curated and --out")
    ours = False
    if out.is_file():  # a previous gazetteer is ours to replace; any other file only with --force
        try:
            ours = str(read_json_object(out).get("format", "")).startswith(FORMAT.split("/")[0] + "/")
        except (JSONInputError, WebslmError):
            ours = False
    if not ours:
        check_output(out, inputs=[curated], force=args.force, what="gazetteer")
    start = time.perf_counter()
    data, shadowed = write_gazetteer(Path(curated), Path(out))
    kinds = Counter(p["kind"] for p in data["places"])
    print(f"wrote {len(data['places'])} places to {out} in {time.perf_counter() - start:.1f} s: " +
          ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
    for line in shadowed:
        print(f"note: {line}")
    return 0


def register(sub) -> None:
    data = sub.add_parser("data", help="dataset: generate, verify, convert, split, import-xlam, stats, gazetteer")
    verbs = data.add_subparsers(dest="data_verb", metavar="ACTION", required=True)

    def verb(name, help_text, run, writes=True):
        p = verbs.add_parser(name, help=help_text)
        p.add_argument("--domain", default=DEFAULT_DOMAIN, help=f"domain pack name or folder (default {DEFAULT_DOMAIN})")
        if writes:
            p.add_argument("--force", action="store_true",
                           help="replace an existing --out (only a file, or a previous output of this verb)")
        p.set_defaults(run=run)
        return p

    p = verb("generate", "synthetic instruction -> tool-call records from the domain's phrase templates", run_generate)
    p.add_argument("-n", type=int, default=5000, help="number of records (default 5000)")
    p.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same file (default 1)")
    p.add_argument("--out", type=Path, required=True, help="output .jsonl (seed format with 'meta')")

    p = verb("verify", "check records against the tool contract; lists every problem as file:line [field]",
             run_verify, writes=False)
    p.add_argument("files", type=Path, nargs="+", metavar="FILE", help="seed or chat .jsonl files")

    p = verb("convert", "seed <-> OpenAI chat format (lossless both ways)", run_convert)
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--to", choices=["chat", "seed"], required=True)
    p.add_argument("--out", type=Path, required=True)

    p = verb("split", "train/validation/test with unseen places and phrasings in test", run_split)
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--validation", type=float, default=0.05, help="share of the seen records (default 0.05)")
    p.add_argument("--holdout-places", type=float, default=0.1,
                   help="share of records whose (rarest) places are held out for test (default 0.1)")
    p.add_argument("--holdout-templates", type=float, default=0.1,
                   help="share of each tool's records whose (least used) templates are held out (default 0.1)")

    p = verb("import-xlam", "xLAM function-calling rows (local JSON/JSONL file) -> seed records", run_import_xlam)
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--show-skipped", type=int, default=20, help="print this many skipped rows (default 20)")

    p = verb("stats", "counts per tool, argument coverage, places vs coordinates, lengths; JSON, CSV, PNG", run_stats)
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--tokenizer", type=Path, default=None,
                   help="a model directory: count real tokens instead of the chars/4 estimate")

    p = verb("gazetteer", "(re)build the domain's gazetteer from packaged GeoNames and Natural Earth data and its "
             "curated places file", run_gazetteer)
    p.add_argument("--curated", type=Path, default=None,
                   help="the curated places file (default: the domain's, e.g. domains/cesium/curated_places.json)")
    p.add_argument("--out", type=Path, default=None,
                   help="output .json (default: the domain's gazetteer file, replaced when it is a gazetteer)")
