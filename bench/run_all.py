"""Run every benchmark under ``bench/`` and write ``BENCHMARKS.md`` (``make bench``).

Usage::

    .venv/bin/python bench/run_all.py                      # modest sizes, ~15-25 min
    .venv/bin/python bench/run_all.py --only generator soak
    .venv/bin/python bench/run_all.py --full               # each bench's own defaults: hours

Each bench runs as a subprocess through its own command line (the benches belong to
their modules; this file only calls them), with the modest arguments below unless
``--full``, which passes none but ``--repeat`` and the bench's own defaults apply. A
bench found under ``bench/`` without a profile here runs with its defaults. The report
holds the machine (CPU, cores, RAM, load before and after each bench), the versions, the
date, and each bench's table as it printed it: the benches with ``--repeat`` print the
median and, in brackets, the min-max over the repetitions; the soak is one timed run.
A bench that fails or times out is reported as such, and the others still run.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
VERSIONS = (
    "pandas",
    "numpy",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "mlflow",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "psycopg",
    "dask",
    "distributed",
)


@dataclass(frozen=True)
class Profile:
    """How ``make bench`` runs one bench: modest arguments, repeat flag, time bound."""

    modest: tuple[str, ...] = ()
    repeats: bool = True  # takes --repeat
    timeout_seconds: float = 1800.0
    setup: tuple[tuple[str, ...], ...] = field(default_factory=tuple)  # commands run first


# {db} is a throwaway SQLite database in the run's temporary folder.
PROFILES = {
    "bench_generator": Profile(("--customers", "1000", "5000")),
    "bench_features": Profile(("--sizes", "20000", "50000")),
    "bench_train": Profile(("--customers", "150", "--years", "2")),
    "bench_engines": Profile(("--invoices", "100000", "--worker-memory", "1GiB"), repeats=False),
    "bench_serving": Profile(
        ("--customers", "150", "--years", "2", "--requests", "200", "--peer-batches", "3")
    ),
    "bench_worklist": Profile(
        ("--database-url", "{db}"),
        setup=(
            (
                str(BIN / "payrisk"),
                "generate",
                "--customers",
                "300",
                "--years",
                "2",
                "--seed",
                "7",
                "--end",
                "2026-11-30",
                "--to-db",
            ),
        ),
    ),
    "soak": Profile(("--seconds", "60", "--warmup", "10", "--customers", "150"), repeats=False),
}
FULL_SIZES = """\
Full sizes (`bench/run_all.py --full`, or each bench alone with no arguments): the
generator at 100k, 300k and 1M invoices; features at 100k and 300k; training on the demo
ledger (400 customers x 3 years); the engines at 1M invoices (`--invoices 1000000 3000000
10000000` for the issue's sizes); the serving bench on the demo ledger with 400 requests
per measurement; the soak for 120 s (`make soak SOAK_SECONDS=600` for a longer one).
"""


def machine() -> list[str]:
    """CPU model, cores, RAM, OS: one line each."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split()[1])
        memory = f"{total_kb / 1024**2:.1f} GiB"
    return [
        f"CPU: {cpu}",
        f"cores: {os.cpu_count()}",
        f"RAM: {memory}",
        f"OS: {platform.platform()}",
    ]


def versions() -> str:
    found = [f"python {platform.python_version()}"]
    for name in VERSIONS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


@dataclass
class Outcome:
    name: str
    command: list[str]
    status: str
    seconds: float
    load_before: str
    load_after: str
    output: str


def run_bench(name: str, args: argparse.Namespace, scratch: Path) -> Outcome:
    """One bench in a subprocess: its stdout (the table), status and duration."""
    profile = PROFILES.get(name, Profile())
    env = {
        **os.environ,
        "PAYRISK_DATA_DIR": str(scratch / name),
        "PAYRISK_DATABASE_URL": f"sqlite:///{scratch / name / 'payrisk.db'}",
        "PAYRISK_MLFLOW_TRACKING_URI": "",
    }
    arguments = (
        [] if args.full else [a.format(db=env["PAYRISK_DATABASE_URL"]) for a in profile.modest]
    )
    if profile.repeats:
        arguments += ["--repeat", str(args.repeat)]
    command = [sys.executable, str(BENCH / f"{name}.py"), *arguments]
    load_before, started = load(), time.perf_counter()
    try:
        for step in profile.setup:
            subprocess.run(step, env=env, cwd=ROOT, check=True, capture_output=True, timeout=900)
        done = subprocess.run(
            command,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=profile.timeout_seconds,
        )
        status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
        output = done.stdout if done.returncode == 0 else done.stdout + "\n" + done.stderr[-3000:]
    except subprocess.TimeoutExpired as error:
        status, output = f"timed out after {error.timeout:.0f} s", str(error.stdout or "")
    except subprocess.CalledProcessError as error:
        status, output = f"setup failed (exit {error.returncode})", str(error.stderr)[-3000:]
    seconds = time.perf_counter() - started
    print(f"{name}: {status} in {seconds:.0f} s", flush=True)
    shown = [a if not a.startswith("sqlite:///") else "sqlite:///<tmp>/payrisk.db" for a in command]
    return Outcome(name, shown, status, seconds, load_before, load(), output)


def write_report(path: Path, outcomes: list[Outcome], args: argparse.Namespace) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`bench/run_all.py`) on {now}; "
        f"{'full' if args.full else 'modest'} sizes, `--repeat {args.repeat}` where a bench "
        "takes it. Do not edit by hand: rerun it.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {line}" for line in machine()]
    lines += [
        f"- versions: {versions()}",
        "- load average (1 / 5 / 15 min) is given beside "
        "each bench: the machine may be shared, and the figures are what it gave.",
        "",
    ]
    lines += [
        "## How to run",
        "",
        "```sh",
        "make bench            # this file, modest sizes",
        ".venv/bin/python bench/run_all.py --only soak generator",
        "```",
        "",
        FULL_SIZES,
    ]
    for outcome in outcomes:
        shown = " ".join(part.replace(str(ROOT) + "/", "") for part in outcome.command[1:])
        lines += [
            f"## {outcome.name}",
            "",
            f"`python {shown}`: **{outcome.status}** in {outcome.seconds:.0f} s; load "
            f"before {outcome.load_before}, after {outcome.load_after}.",
            "",
            "```",
            outcome.output.strip() or "(no output)",
            "```",
            "",
        ]
    path.write_text("\n".join(lines))


def main() -> int:
    found = [*sorted(path.stem for path in BENCH.glob("bench_*.py")), "soak"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions, where a bench takes it")
    parser.add_argument("--full", action="store_true", help="each bench's own (full) sizes")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help=f"a subset, by name without bench_: {', '.join(found)}",
    )
    args = parser.parse_args()
    chosen = found
    if args.only:
        wanted = {
            name if name == "soak" else f"bench_{name.removeprefix('bench_')}" for name in args.only
        }
        unknown = wanted - set(found)
        if unknown:
            parser.error(f"no such bench: {', '.join(sorted(unknown))}")
        chosen = [name for name in found if name in wanted]
    with tempfile.TemporaryDirectory(prefix="payrisk-bench-") as folder:
        outcomes = []
        for name in chosen:
            (Path(folder) / name).mkdir()
            outcomes.append(run_bench(name, args, Path(folder)))
    write_report(args.out, outcomes, args)
    print(f"wrote {args.out}")
    return 0 if all(outcome.status == "ok" for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
