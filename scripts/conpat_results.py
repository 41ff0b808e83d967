"""Reading conpat results files: one module for every script.

A results file is Google Benchmark's JSON ({"context": ..., "benchmarks": [...]})
extended by conpat: context.conpat holds machine and run metadata, and every
benchmark carries family / impl / params parsed from its name
(`family/impl:NAME/key:value/...`). Plain Google Benchmark files are read
too: their names are parsed here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "results" / "schema" / f"v{SCHEMA_VERSION}.json"

# Google Benchmark's own name suffixes: not conpat parameters (threads: is a
# parameter: conpat never uses Google Benchmark's ->Threads()).
GBENCH_KEYS = {"iterations", "repeats", "min_time", "min_warmup_time"}


class ResultsError(Exception):
    """A results file that cannot be used; str() is a one-line message naming the file."""


def parse_value(text: str):
    """'16' -> 16, '0.5' -> 0.5, anything else stays a string."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_name(name: str) -> tuple[str, str, dict]:
    """Splits `family/impl:NAME/key:value/...` into (family, impl, params).

    Parts without a colon (real_time, manual_time) and Google Benchmark's
    own keys are skipped.
    """
    parts = name.split("/")
    family, impl, params = parts[0], "", {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep:
            continue
        if key == "impl":
            impl = value
        elif key not in GBENCH_KEYS:
            params[key] = parse_value(value)
    return family, impl, params


def annotate(bench: dict) -> dict:
    """Adds family / impl / params to a benchmark entry that lacks them."""
    if "family" not in bench or "params" not in bench:
        family, impl, params = parse_name(bench.get("run_name", bench.get("name", "")))
        bench.setdefault("family", family)
        bench.setdefault("impl", impl)
        bench.setdefault("params", params)
    return bench


def load(path: str | os.PathLike) -> dict:
    """Reads a conpat or plain Google Benchmark results file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: invalid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a Google Benchmark results file (no 'benchmarks' list)")
    conpat = doc.get("context", {}).get("conpat")
    if conpat is not None:
        version = conpat.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ResultsError(
                f"{path}: results schema version {version!r}; this conpat reads version {SCHEMA_VERSION}"
            )
    for b in doc["benchmarks"]:
        annotate(b)
    return doc


def validate(doc: dict, path: str | os.PathLike = "<results>") -> None:
    """Checks a conpat results document against the JSON Schema; raises ResultsError."""
    import jsonschema  # Debian: python3-jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ResultsError(f"{path}: schema mismatch at {where}: {e.message}{more}")


def write_new(path: str | os.PathLike, doc: dict) -> None:
    """Writes JSON to a temporary file, then links it into place; never overwrites."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    try:
        os.link(tmp, path)  # fails if path exists, unlike rename
    except FileExistsError:
        raise ResultsError(f"{path}: exists; conpat never overwrites a results file") from None
    finally:
        tmp.unlink(missing_ok=True)


def newest(directory: str | os.PathLike) -> Path:
    """The newest results file (by name: UTC stamp first) under a directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"{directory}: not a directory")
    files = sorted(p for p in directory.rglob("*.json") if not p.name.startswith("."))
    if not files:
        raise ResultsError(f"{directory}: no results files")
    return max(files, key=lambda p: p.name)


FAMILY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


# ---- metrics ------------------------------------------------------------------

_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Metrics where a smaller value is better; every other metric compared is a rate.
LOWER_IS_BETTER = ("time_ns", "lat_p50_ns", "lat_p90_ns", "lat_p99_ns", "lat_p999_ns")
HIGHER_IS_BETTER = ("items_per_second",)
COMPARED = ("time_ns", "items_per_second", "lat_p50_ns", "lat_p90_ns", "lat_p99_ns", "lat_p999_ns")


def key_of(b: dict) -> tuple:
    """Identity of a benchmark across runs: family, impl and params (never the raw name)."""
    return (b["family"], b["impl"], tuple(sorted((k, str(v)) for k, v in b["params"].items())))


def key_label(key: tuple) -> str:
    family, impl, params = key
    return f"{family}/impl:{impl}" + "".join(f"/{k}:{v}" for k, v in params)


def metrics_of(b: dict) -> dict:
    """The comparable metrics of one benchmark entry; time_ns is real_time in ns."""
    out = {}
    if isinstance(b.get("real_time"), (int, float)):
        out["time_ns"] = float(b["real_time"]) * _UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
    for m in COMPARED[1:]:
        if isinstance(b.get(m), (int, float)):
            out[m] = float(b[m])
    return out


def samples(doc: dict) -> dict:
    """key -> {"metrics": {metric: [one value per repetition]}, "entry": first entry,
    "oversubscribed": bool}; failed benchmarks are left out."""
    out: dict = {}
    for b in doc["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        rec = out.setdefault(key_of(b), {"metrics": {}, "entry": b, "oversubscribed": bool(b.get("oversubscribed"))})
        for m, v in metrics_of(b).items():
            rec["metrics"].setdefault(m, []).append(v)
    return out


def median(values: list) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def machine_label(doc: dict, path=None) -> str:
    c = doc.get("context", {}).get("conpat")
    if c:
        return c.get("machine", "?")
    return Path(path).stem if path else doc.get("context", {}).get("host_name", "?")


def resolve_inputs(paths: list) -> list[Path]:
    """Files stay files; a directory stands for its newest results file."""
    out = []
    for p in paths:
        p = Path(p)
        out.append(newest(p) if p.is_dir() else p)
    return out
