"""The results table (``group<TAB>unit<TAB>result``), its counts, and streamdata vs. real Ray."""
from collections import Counter
from pathlib import Path

Row = tuple[str, str, str]
STATUSES = ("pass", "fail", "skip", "notrun")


def status(result: str) -> str:
    """``pass`` / ``fail`` / ``skip`` / ``notrun`` of a result string."""
    return result.split(":", 1)[0].strip()


def read(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [tuple(l.split("\t", 2)) for l in path.read_text().splitlines() if l.count("\t") >= 2]


def write(path: Path, rows: list[Row], order: list[str]) -> list[Row]:
    """Replace the rows of the groups in ``rows`` (keeping the others); groups in ``order``."""
    new_groups = {g for g, _, _ in rows}
    kept = [r for r in read(path) if r[0] not in new_groups] + rows
    rank = {g: i for i, g in enumerate(order)}
    kept.sort(key=lambda r: rank.get(r[0], len(rank)))  # stable: units keep their order
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(r) + "\n" for r in kept))
    return kept


def counts(rows: list[Row]) -> str:
    c = Counter(status(r) for _, _, r in rows)
    return ", ".join(f"{s} {c[s]}" for s in STATUSES if c[s] or s != "notrun") + f"; total {len(rows)}"


def summary(rows: list[Row], title: str) -> None:
    """Print the counts, for whole scripts and for units apart when a suite has both."""
    scripts = [r for r in rows if r[1] == "(script)"]
    units = [r for r in rows if r[1] != "(script)"]
    print(f"== {title}")
    if scripts:
        print(f"   whole scripts: {counts(scripts)}")
    if units:
        label = "sections/blocks" if scripts else "units"
        print(f"   {label}: {counts(units)} in {len({g for g, _, _ in units})} groups")


def compare(ours: list[Row], ray: list[Row]) -> None:
    """Each streamdata failure with Ray's result on the same unit: GAP (Ray passes) or ray-fails."""
    theirs = {(g, u): r for g, u, r in ray}
    tags: Counter = Counter()
    for g, u, r in ours:
        if status(r) not in ("fail", "notrun"):
            continue
        rr = theirs.get((g, u))
        tag = "ray-?" if rr is None else "GAP" if status(rr) == "pass" else f"ray-{status(rr)}"
        tags[tag] += 1
        print(f"[{tag}] {g} / {u}: {r}\n      ray: {rr or 'not run'}")
    print("   streamdata failures by Ray's result: " + ", ".join(f"{k} {v}" for k, v in sorted(tags.items())))
