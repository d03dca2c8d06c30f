"""Train / validation / test split where the test set measures generalisation, not recall.

Test holds every record that uses an *unseen place* or an *unseen phrasing*:
  - held-out places: the rarest places in the file (fewest records, ties broken by a seeded hash) until they cover
    `holdout_places` of the records, so famous cities stay in training and the test asks for the long tail;
  - held-out templates: per tool, its least used templates (ties by seeded hash) up to `holdout_templates` of the
    tool's records, at least one, never a tool's last one nor one in `keep_templates` (templates marked
    "holdout": false in the domain's templates file: the only ones teaching a meaning, e.g. minutes -> seconds).
No train or validation record uses a held-out place or template. Validation is a seeded random share of the rest.
Places are compared by gazetteer identity (meta.places, "Name, CC"), so "Bombay" and "Mumbai" are one place;
records without meta fall back to the {"place": ...} strings of their output and count as one unnamed template.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from pathlib import Path

from webslm import atomic
from webslm.domain import PLACE_KEY
from webslm.errors import WebslmError
from webslm.records import parse_output, read_records

SPLIT_FORMAT = "webslm-split/1"


def _meta(record: dict) -> dict:
    meta = record.get("meta")
    return meta if isinstance(meta, dict) else {}


def record_places(record: dict) -> list[str]:
    meta = _meta(record)
    if isinstance(meta.get("places"), list):
        return [p for p in meta["places"] if isinstance(p, str)]
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get(PLACE_KEY), str):
                found.append(node[PLACE_KEY])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(parse_output(record))
    return found


def record_template(record: dict) -> str:
    return str(_meta(record).get("template", ""))


def record_tool(record: dict) -> str:
    call = parse_output(record)
    tool = call.get("tool") if isinstance(call, dict) else None
    return tool if isinstance(tool, str) else ""


def _hash(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def choose_holdouts(records: list[dict], seed: int, holdout_places: float, holdout_templates: float,
                    keep_templates: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
    place_records = Counter(p for r in records for p in set(record_places(r)))
    held_places: set[str] = set()
    budget = holdout_places * len(records)
    touched = 0
    for place in sorted(place_records, key=lambda p: (place_records[p], _hash(seed, p))):
        if touched + place_records[place] > budget:
            break
        held_places.add(place)
        touched += place_records[place]
    template_records = defaultdict(Counter)  # tool -> template -> records
    for r in records:
        if record_template(r) and record_template(r) not in keep_templates:
            template_records[record_tool(r)][record_template(r)] += 1
    held_templates: set[str] = set()
    for tool, counts in sorted(template_records.items()):
        if len(counts) < 2 or holdout_templates <= 0:
            continue  # a tool's only sentence shape must be trained on
        budget, touched = holdout_templates * sum(counts.values()), 0
        for i, template in enumerate(sorted(counts, key=lambda t: (counts[t], _hash(seed, t)))):
            if i == len(counts) - 1 or (i > 0 and touched + counts[template] > budget):
                break
            held_templates.add(template)
            touched += counts[template]
    return held_places, held_templates


def split_records(records: list[dict], seed: int = 1, validation: float = 0.05, holdout_places: float = 0.1,
                  holdout_templates: float = 0.1, keep_templates: frozenset[str] = frozenset()
                  ) -> tuple[dict[str, list[dict]], dict]:
    for name, value in (("validation", validation), ("holdout-places", holdout_places),
                        ("holdout-templates", holdout_templates)):
        if not 0 <= value < 1:
            raise WebslmError(f"--{name} must be a fraction in [0, 1), got {value}")
    held_places, held_templates = choose_holdouts(records, seed, holdout_places, holdout_templates, keep_templates)
    splits: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    why = Counter()
    rng = random.Random(seed)
    for r in records:
        unseen_place = bool(held_places.intersection(record_places(r)))
        unseen_template = record_template(r) in held_templates
        if unseen_place or unseen_template:
            splits["test"].append(r)
            why["unseen place and template" if unseen_place and unseen_template
                else "unseen place" if unseen_place else "unseen template"] += 1
        elif rng.random() < validation:
            splits["validation"].append(r)
        else:
            splits["train"].append(r)
    manifest = {
        "format": SPLIT_FORMAT, "seed": seed, "validation": validation, "holdout_places": holdout_places,
        "holdout_templates": holdout_templates, "counts": {k: len(v) for k, v in splits.items()},
        "test_reasons": dict(sorted(why.items())), "held_out_templates": sorted(held_templates),
        "held_out_places": sorted(held_places),
    }
    return splits, manifest


SPLIT_MANIFEST = "split.json"


def split_file(path: Path, out_dir: Path, force: bool = False, **options) -> dict:
    atomic.check_output(out_dir, SPLIT_MANIFEST, inputs=[path], force=force, what="split")
    splits, manifest = split_records(read_records(path), **options)
    manifest["source"] = str(path)
    with atomic.atomic_dir(Path(out_dir), SPLIT_MANIFEST, inputs=[path], force=force, what="split") as tmp:
        for name, rows in splits.items():
            atomic.write_jsonl(tmp / f"{name}.jsonl", rows)
        atomic.write_json(tmp / SPLIT_MANIFEST, manifest)
    return manifest
