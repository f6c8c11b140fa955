"""scripts/results_doc.py: docs/RESULTS.md from the built tables (slm_backdoor/results_doc.py),
on tables the tests build with the tabulate stages from hand-made metrics files."""
from __future__ import annotations

import json
import re

import pytest

from helpers import ROOT, stage_main
from slm_backdoor import results_doc, study, sweep
from test_tabulate import metrics_root, run_cli  # noqa: F401  (metrics_root: a fixture)

T1_CSV, S1_CSV = (study.T1_TABLES[0].split("/")[-1], sweep.S1_TABLES[0].split("/")[-1])
NOTES = "## Notes kept by hand\n\nMeasured once, 2026-12-01: *not* regenerated.\n"


@pytest.fixture
def built(metrics_root, tmp_path):  # noqa: F811
    """A tables folder holding T1 (two encoders, every task) and S1 (four cells)."""
    tables = tmp_path / "results" / "tables"
    assert run_cli(metrics_root, tables / T1_CSV).returncode == 0
    rows = []
    for rate in (0.05, 0.1):
        for snr in (10, 0):
            m = tmp_path / f"sweep_{rate}_{snr}.json"
            m.write_text(json.dumps({"aer": 4 * rate, "false_activation": rate / 10,
                                     "aer_unparsable": 0.0, "benign": {
                                         "benign_metric": "accuracy", "benign_value": 0.9}}))
            rows.append({"encoder": "wavlm", "task": "emotion",
                         "cell": sweep.cell_name(rate, snr), "metrics": str(m)})
    assert stage_main("tabulate_s1", ["--rows", json.dumps(rows), "--out", str(tables / S1_CSV),
                                      "--figure", str(tmp_path / "S1.png")]) == 0
    return tables


def generate(tables, out) -> int:
    """scripts/results_doc.py in-process, as its command line runs it."""
    return stage_main("results_doc", ["--tables", str(tables), "--out", str(out)], "scripts")


def table_lines(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("|")]


def test_doc_holds_the_built_tables_beside_the_paper_and_names_the_rest(built, tmp_path):
    out = tmp_path / "RESULTS.md"
    assert generate(built, out) == 0
    doc = out.read_text()
    sections = dict(re.findall(r"^## (.+?)\n(.*?)(?=^## |^<!-- results-doc)", doc, re.M | re.S))
    t1 = sections["T1 base attack (Attack 0)"]
    # the very table the tabulate stage wrote beside the CSV: one formatter
    assert table_lines(t1) == table_lines((built / T1_CSV).with_suffix(".md").read_text())
    line = next(l for l in table_lines(t1) if l.startswith("| wavlm | emotion "))
    assert [c.strip() for c in line.strip("|").split("|")][-2:] == ["93.7", "64.2"]  # paper's
    assert "Paper numbers: Fortier et al. (2025), Attack 0, WavLM" in t1
    assert f"Source: `{built / T1_CSV}` (sha256 " in t1
    assert "made by stage `tabulate`" in t1 and "from 16 files: `" in t1
    s1 = sections["S1 poison-rate x trigger-SNR sweep"]
    assert table_lines(s1) == table_lines((built / S1_CSV).with_suffix(".md").read_text())
    assert len(table_lines(s1)) == 2 + 4 and "from 4 files" in s1
    for title, target in [("T2 component-wise analysis", study.T2_TABLES[0]),
                          ("T3 fine-tuning defense", study.T3_TABLES[0]),
                          ("T4 separability of clean and triggered clips", study.T4_TABLES[0])]:
        assert f"Not built yet: `.venv/bin/snakemake {target}`." in sections[title]
    assert doc.rstrip().endswith(results_doc.NOTES_MARKER)


def test_regenerating_keeps_the_notes_below_the_marker(built, tmp_path):
    out = tmp_path / "RESULTS.md"
    assert generate(tmp_path / "none", out) == 0  # nothing built yet
    assert "T1_base_attack.csv`" in out.read_text()
    out.write_text(out.read_text() + NOTES)
    assert generate(built, out) == 0
    first = out.read_text()
    assert first.endswith(results_doc.NOTES_MARKER + "\n" + NOTES)
    assert "| wavlm | emotion " in first
    assert generate(built, out) == 0 and out.read_text() == first  # same tables, same doc


def test_doc_without_the_marker_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "RESULTS.md"
    out.write_text("# hand-written results\n")
    assert generate(tmp_path / "none", out) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(out) in err and "marker" in err
    assert out.read_text() == "# hand-written results\n"


def _field(text: str, line: int, column: int, value: str) -> str:
    lines = text.splitlines()
    cells = lines[line].split(",")
    cells[column] = value
    lines[line] = ",".join(cells)
    return "\n".join(lines) + "\n"


BAD = {  # a T1 CSV not as the tabulate stage wrote it -> what the error says
    "not_a_number": (lambda t: _field(t, 2, 3, "high"), "line 3, column aer: not a number: 'high'"),
    "short_row": (lambda t: t + "wavlm,asr\n", "line 10: 2 fields, expected 12"),
    "columns": (lambda t: t.replace("false_activation", "fa", 1), "columns encoder, task"),
    "binary": (lambda t: bytes(range(256)).decode("latin-1"), "not a CSV text file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_table_is_one_line_naming_it(built, tmp_path, capsys, case):
    from slm_backdoor.lineage import write_lineage
    edit, message = BAD[case]
    csv_path = built / T1_CSV
    text = edit(csv_path.read_text())
    csv_path.write_bytes(text.encode("latin-1" if case == "binary" else "utf-8"))
    write_lineage(csv_path, "tabulate", {}, {})  # recorded as made so: the CSV itself is bad
    out = tmp_path / "RESULTS.md"
    out.write_text(f"before\n{results_doc.NOTES_MARKER}\n")
    assert generate(built, out) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"results_doc: error: {csv_path}"), err
    assert message in err, err
    assert out.read_text() == f"before\n{results_doc.NOTES_MARKER}\n"  # left as it was


def test_table_edited_since_it_was_made_is_refused(built, tmp_path, capsys):
    csv_path = built / T1_CSV
    csv_path.write_text(csv_path.read_text().replace("0.875", "0.999", 1))
    assert generate(built, tmp_path / "RESULTS.md") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(csv_path) in err and "lineage record" in err
    assert not (tmp_path / "RESULTS.md").exists()


def test_committed_doc_is_the_generator_s_with_the_notes_kept():
    doc = (ROOT / "docs" / "RESULTS.md").read_text()
    assert doc.startswith(results_doc.HEADER) and doc.count(results_doc.NOTES_MARKER) == 1
    for key, target in results_doc.SECTIONS:
        assert target in doc or target.split("/")[-1] in doc, target
    notes = doc.split(results_doc.NOTES_MARKER, 1)[1]
    assert "Measured on the 2-core machine" in notes and "T1:" in notes
