"""Reading conpat results files: one module for every script.

A results file is Google Benchmark's JSON ({"context": ..., "benchmarks": [...]})
extended by conpat: context.conpat holds machine and run metadata, and every
benchmark carries family / impl / params parsed from its name
(`family/impl:NAME/key:value/...`). Plain Google Benchmark files are read
too: their names are parsed here.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "results" / "schema" / f"v{SCHEMA_VERSION}.json"

# Google Benchmark's own name suffixes: not conpat parameters (threads: is a
# parameter: conpat never uses Google Benchmark's ->Threads()).
GBENCH_KEYS = {"iterations", "repeats", "min_time", "min_warmup_time"}
GBENCH_FLAGS = {"real_time", "manual_time", "process_time"}

# A results file written by `make bench`: <UTC stamp>-<git sha>.json, or the
# same compressed (.json.gz, as CI stores runs).
STAMP_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9A-Za-z]+\.json(\.gz)?$")  # not .invalid.json: bench.py keeps failed merges so


def read_text(path: str | os.PathLike) -> str:
    """A file's text; a name ending in .gz is gunzipped first. Raises ResultsError."""
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        return path.read_text()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a directory") from None
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: not a readable gzip or text file ({e})") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None


def quiet_pipe() -> None:
    """A closed pipe (`script ... | head`) ends a script quietly, as it ends cat: no traceback."""
    import signal

    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


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

    Google Benchmark's own flags (real_time, manual_time, process_time) and
    keys (iterations:, repeats:, ...) are skipped. Unnamed parts of plain
    Google Benchmark names (`BM_Foo/8/64`) are positional arguments and
    become params arg0, arg1, ... so that BM_Foo/8 and BM_Foo/64 stay apart.
    """
    parts = name.split("/")
    family, impl, params = parts[0], "", {}
    positional = 0
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep:
            if part and part not in GBENCH_FLAGS:
                params[f"arg{positional}"] = parse_value(part)
                positional += 1
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


def load(path: str | os.PathLike, check: bool = True) -> dict:
    """Reads a conpat or plain Google Benchmark results file (.json, or .json.gz).

    A conpat file (context.conpat present) is checked against the JSON Schema
    as it is on disk, before family / impl / params are filled in for entries
    that lack them; check=False skips that (for one family's partial output).
    """
    path = Path(path)
    text = read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: invalid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a Google Benchmark results file (no 'benchmarks' list)")
    context = doc.setdefault("context", {})
    if not isinstance(context, dict):
        raise ResultsError(f"{path}: 'context' is a {type(context).__name__}, not an object")
    for i, b in enumerate(doc["benchmarks"]):
        if not isinstance(b, dict):
            raise ResultsError(f"{path}: benchmarks[{i}] is a {type(b).__name__}, not an object")
        if not isinstance(b.get("run_name", b.get("name")), str):
            raise ResultsError(f"{path}: benchmarks[{i}] has no name")
    conpat = context.get("conpat")
    if conpat is not None:
        if not isinstance(conpat, dict):
            raise ResultsError(f"{path}: 'context.conpat' is not an object")
        version = conpat.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ResultsError(
                f"{path}: results schema version {version!r}; this conpat reads version {SCHEMA_VERSION}"
            )
        if check:
            validate(doc, path)
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


SIGNIFICANT_DIGITS = 7


def _rounded(v):
    """Floats to SIGNIFICANT_DIGITS significant digits (a timer's resolution and
    the run-to-run noise are both far coarser), recursively; the rest as is."""
    if isinstance(v, float):
        return float(f"{v:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    return v


def dumps(doc: dict) -> str:
    """A results document as text: the context indented, one benchmark entry
    per line (readable in a diff, and a fifth smaller than indenting all),
    benchmark floats to 7 significant digits."""
    if set(doc) != {"context", "benchmarks"}:
        return json.dumps(doc, indent=2) + "\n"
    context = json.dumps(doc["context"], indent=2).replace("\n", "\n  ")
    entries = ",\n".join("    " + json.dumps(_rounded(b), separators=(",", ":")) for b in doc["benchmarks"])
    return f'{{\n  "context": {context},\n  "benchmarks": [\n{entries}\n  ]\n}}\n'


def write_new(path: str | os.PathLike, doc: dict) -> None:
    """Writes JSON to a temporary file, then links it into place; never overwrites."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    tmp.write_text(dumps(doc))
    try:
        os.link(tmp, path)  # fails if path exists, unlike rename
    except FileExistsError:
        raise ResultsError(f"{path}: exists; conpat never overwrites a results file") from None
    finally:
        tmp.unlink(missing_ok=True)


def results_files(directory: str | os.PathLike) -> list[Path]:
    """The results files under a directory, oldest first: files named
    <UTC stamp>-<sha>.json (as `make bench` writes them) or .json.gz, by stamp."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"{directory}: not a directory")
    return sorted((p for p in directory.rglob("*.json*") if STAMP_RE.match(p.name)), key=lambda p: p.name)


def newest(directory: str | os.PathLike) -> Path:
    """The newest results file (by its UTC stamp) under a directory."""
    files = results_files(directory)
    if not files:
        raise ResultsError(f"{directory}: no results files (named <UTC stamp>-<sha>.json or .json.gz, "
                           "as 'make bench' writes)")
    return files[-1]


# ---- metrics ------------------------------------------------------------------

_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Metrics where a smaller value is better; every other metric compared is a rate.
LOWER_IS_BETTER = ("time_ns", "lat_p50_ns", "lat_p90_ns", "lat_p99_ns", "lat_p999_ns")
# items_per_second is items / time: where time_ns is there it is the same
# measurement and is not compared (or tested) a second time.
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
        if m == "items_per_second" and "time_ns" in out:
            continue
        if isinstance(b.get(m), (int, float)):
            out[m] = float(b[m])
    return out


def iterations(doc: dict) -> list[dict]:
    """The measured repetitions (no aggregates, no failed benchmarks)."""
    return [b for b in doc["benchmarks"]
            if b.get("run_type", "iteration") == "iteration" and not b.get("error_occurred")]


# ---- machine state of each sample -------------------------------------------------
#
# Every C++ sample carries state_c2c_ns, a core-to-core round trip measured
# just before and after it. On the reference VM that round trip sits near
# 60 ns most of the time and moves for minutes at a time to 350-700 ns, and
# every benchmark is 1.5-5x slower meanwhile. bench.py marks a sample
# state_shift when its round trip is more than STATE_FACTOR times the run's
# usual one (the 25th percentile over the run's samples); Go's samples, which
# have no probe of their own, are marked by the probes taken around their pass.
# Summaries use the samples in the usual state when at least MIN_IN_STATE of
# them exist (or all of them, if fewer were taken), else every sample, and say
# so (state_mixed). compare.py tests on the same selection, so a row left
# with 3 or 4 usual samples has a median and an interval but no test; the
# state probe measures the machine, not the code, so a slower build does not
# move its own samples out of the test.

#
# Not every benchmark feels the state: a single-threaded error-code loop runs
# as fast at either round trip. When a benchmark's marked samples have a
# median within STATE_INSENSITIVE of its unmarked ones (time), the state did
# not move it, and every sample is used.

STATE_FACTOR = 2.0
MIN_IN_STATE = 3
STATE_INSENSITIVE = 1.10


def in_state(entries: list) -> tuple:
    """(the samples a summary uses, whether those mix states): the samples not
    marked state_shift when there are enough of them (all of them when the
    state did not move this benchmark), else all of them, flagged."""
    good = [b for b in entries if not b.get("state_shift")]
    if len(good) == len(entries):
        return list(entries), False
    marked = [b for b in entries if b.get("state_shift")]
    times_good = [b["real_time"] for b in good if isinstance(b.get("real_time"), (int, float))]
    times_marked = [b["real_time"] for b in marked if isinstance(b.get("real_time"), (int, float))]
    if times_good and times_marked and median(times_good) > 0:
        r = median(times_marked) / median(times_good)
        if 1 / STATE_INSENSITIVE <= r <= STATE_INSENSITIVE:
            return list(entries), False
    if len(good) >= min(MIN_IN_STATE, len(entries)):
        return good, False
    return list(entries), True


def samples(doc: dict, extra: tuple = (), all_states: bool = False) -> dict:
    """key -> {"metrics": {metric: [one value per sample used]}, "entry": first entry,
    "oversubscribed": bool, "n_taken": samples taken, "n_off_state": samples left
    out for their machine state, "state_mixed": bool}; failed benchmarks and
    aggregates are left out, and so are samples taken in another machine
    state when enough remain (in_state; all_states=True keeps every sample).
    `extra` names counters to collect besides the compared metrics."""
    grouped: dict = {}
    for b in iterations(doc):
        grouped.setdefault(key_of(b), []).append(b)
    out: dict = {}
    for key, entries in grouped.items():
        used, mixed = (entries, False) if all_states else in_state(entries)
        rec = out[key] = {"metrics": {}, "entry": entries[0], "oversubscribed": bool(entries[0].get("oversubscribed")),
                          "n_taken": len(entries), "n_off_state": len(entries) - len(used), "state_mixed": mixed}
        for b in used:
            values = metrics_of(b)
            for m in extra:
                if isinstance(b.get(m), (int, float)):
                    values[m] = float(b[m])
            for m, v in values.items():
                rec["metrics"].setdefault(m, []).append(v)
    return out


def median(values: list) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


# ---- statistics -----------------------------------------------------------------
#
# Every summary is a median with a distribution-free confidence interval from
# order statistics: with n samples, [x_(k), x_(n+1-k)] covers the true median
# with probability 1 - 2 P(Binomial(n, 1/2) < k). k is the largest index
# keeping that at or above the requested level; below 6 samples no pair
# reaches 95 %, so the interval is [min, max] and its (lower) coverage is
# reported with it. One sample has no interval.

def _binom_cdf_half(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) <= k)."""
    return sum(math.comb(n, i) for i in range(0, k + 1)) / 2 ** n


def median_ci(values, level: float = 0.95) -> dict:
    """{"n", "median", "lo", "hi", "coverage"}; lo/hi are None for n < 2."""
    s = sorted(float(v) for v in values)
    n = len(s)
    if n == 0:
        raise ValueError("median of no samples")
    out = {"n": n, "median": median(s), "lo": None, "hi": None, "coverage": None}
    if n < 2:
        return out
    k = 1
    while k + 1 <= n // 2 and 1 - 2 * _binom_cdf_half(k, n) >= level:
        k += 1
    out.update(lo=s[k - 1], hi=s[n - k], coverage=1 - 2 * _binom_cdf_half(k - 1, n))
    return out


def ratio_ci(num: dict, den: dict) -> tuple:
    """A conservative interval for median(num) / median(den) from the two
    medians' intervals (each covering at its own level): (lo, hi), or
    (None, None) when either side has no interval."""
    if None in (num["lo"], num["hi"], den["lo"], den["hi"]) or den["lo"] <= 0 or den["hi"] <= 0:
        return None, None
    return num["lo"] / den["hi"], num["hi"] / den["lo"]


def mann_whitney(a: list, b: list) -> float | None:
    """Two-sided Mann-Whitney U p-value (exact for small samples); None below 2 samples a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    if len(set(a) | set(b)) == 1:
        return 1.0
    from scipy.stats import mannwhitneyu  # Debian: python3-scipy

    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def three_way(lo, hi, above: float | None = None, below: float | None = None) -> str:
    """A verdict from an interval and a rule (value > above, or value < below):
    "holds" when the whole interval satisfies the rule, "does not hold" when
    none of it does, "inconclusive" when it straddles the bound or is missing."""
    if lo is None or hi is None:
        return "inconclusive"
    if above is not None:
        return "holds" if lo > above else ("does not hold" if hi <= above else "inconclusive")
    if below is not None:
        return "holds" if hi < below else ("does not hold" if lo >= below else "inconclusive")
    raise ValueError("three_way needs a bound")


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
