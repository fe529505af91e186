"""Cluster names as users write them: any script, composed or decomposed, names of the
roll-up's own files, Windows device names, separators, dots, and names that differ only in
case. Each cluster gets a folder that every file system keeps apart from the others and
from the roll-up, the name itself stays in the data, and the portfolio diffs against
itself."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from cli_runner import Result, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_offline_audit import INVENTORY, LAB, downloads

from auditor.model.portfolio import PORTFOLIO_FILES
from auditor.pipeline.portfolio import folder_names
from auditor.pipeline.run import SET_NAMES

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts" / "cop-uccx.json"
VERDICT = "go_with_actions"  # what cop-uccx.json audits to after the change

#: What Windows refuses in a file name, besides the controls U+0000 to U+001F.
WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)),
                   *(f"lpt{n}" for n in range(10))}
ROLL_UP = {unicodedata.normalize("NFKC", n).casefold()
           for n in (*SET_NAMES, *PORTFOLIO_FILES.values())}
TRICKY = ["portfolio.json", "PORTFOLIO.HTML", "Portfolio.csv", "manifest.json", "facts.json",
          "audit.json", "report.html", "error.log", "lab", "evidence-east-post.zip", "CON",
          "nul", "Com1", "lpt9.txt", "COM\u00b9", "AUX.", "ｃｏｎ", "..", ".", "", " ", "...",
          "a/b", "a\\b", "../../etc", "C:", "a:b*c?d|e<f>g\"h", "Zürich",
          unicodedata.normalize("NFD", "Zürich"), "ZÜRICH", "Acme", "acme", "ACME.", "acme ",
          "x" * 300, "東京" * 60, "\u202eevil", "zero\u200bwidth", "ㅤ", "हिन्दी"]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def key(name: str) -> str:
    """How Windows or macOS may see a name: compatibility forms and case folded."""
    return unicodedata.normalize("NFKC", name).casefold()


names_lists = st.lists(st.one_of(st.sampled_from(TRICKY),
                                 st.text(st.characters(exclude_categories=("Cs",)),
                                         max_size=24),
                                 st.sampled_from(TRICKY).map(nfd)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(names=names_lists)
def test_folder_names_are_unique_safe_everywhere_and_never_a_roll_up_file(names) -> None:
    folders = folder_names(names)
    assert len(folders) == len(names)
    assert len({key(f) for f in folders}) == len(folders)  # also where case does not count
    for folder in folders:
        assert folder and not folder.startswith(".") and not folder.endswith((".", " "))
        assert not WINDOWS_FORBIDDEN & set(folder)
        assert all(unicodedata.category(c)[0] not in "CZ" for c in folder), folder
        assert unicodedata.is_normalized("NFC", folder)  # macOS gives back what it got
        assert len(folder.encode("utf-8")) <= 255
        assert key(folder).split(".")[0].rstrip(" ") not in WINDOWS_DEVICES
        assert key(folder) not in ROLL_UP
        assert not (key(folder).startswith("evidence-") and key(folder).endswith(".zip"))
    assert folder_names(list(names)) == folders  # the same names, the same folders
    assert folder_names([nfd(n) for n in names]) == folders  # decomposed: the same clusters


# -- whole runs ------------------------------------------------------------------------

def facts_named(folder: Path, names: list[str]) -> Path:
    """One facts file per name (the same cluster's facts, renamed)."""
    data = json.loads(FACTS.read_text(encoding="utf-8"))
    folder.mkdir(parents=True)
    for index, name in enumerate(names):
        data["cluster"] = name
        (folder / f"{index:02}.json").write_text(json.dumps(data, ensure_ascii=False),
                                                 encoding="utf-8")
    return folder


def portfolio(facts: Path, out: Path) -> Result:
    done = invoke("portfolio", facts, "--phase", "post", "--out", out)
    assert done.returncode == 0, done.stderr
    return done


cluster_names = st.lists(st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)),
    min_size=1, max_size=4)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=cluster_names)
def test_a_portfolio_of_any_names_round_trips_through_diff(tmp_path_factory, names) -> None:
    """The portfolio keeps each name, gives each its folder, and diffs against a later one
    whose facts spell the names decomposed: every cluster is matched, none added or
    removed."""
    base = tmp_path_factory.mktemp("names")
    portfolio(facts_named(base / "before", names), base / "p1")
    portfolio(facts_named(base / "after", [nfd(n) for n in names]), base / "p2")
    data = json.loads((base / "p1" / "portfolio.json").read_text(encoding="utf-8"))
    assert [c["cluster"] for c in data["clusters"]] == [unicodedata.normalize("NFC", n)
                                                        for n in names]
    assert [c["folder"] for c in data["clusters"]] == folder_names(names)
    for entry in data["clusters"]:
        assert (base / "p1" / entry["folder"] / "audit.json").is_file()
    done = invoke("diff", base / "p1", base / "p2", "--format", "json")
    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)["clusters"]
    assert len(changes) == len(names)
    assert all(c["before"] == c["after"] == VERDICT for c in changes), changes


def test_clusters_named_like_the_roll_up_files_get_folders_of_their_own(tmp_path) -> None:
    names = ["portfolio.json", "PORTFOLIO.CSV", "manifest.json", "lab", "CON", "Zürich"]
    portfolio(facts_named(tmp_path / "facts", names), tmp_path / "out")
    out = tmp_path / "out"
    data = json.loads((out / "portfolio.json").read_text(encoding="utf-8"))
    assert [c["cluster"] for c in data["clusters"]] == names
    assert [c["folder"] for c in data["clusters"]] == [
        "portfolio.json-2", "PORTFOLIO.CSV-2", "manifest.json-2", "lab-2", "_CON", "Zürich"]
    assert all((out / name).is_file() for name in PORTFOLIO_FILES.values())


def test_diff_reads_the_tools_own_portfolio_of_unicode_names(tmp_path) -> None:
    names = ["Zürich", "東京", "São Paulo"]
    portfolio(facts_named(tmp_path / "facts", names), tmp_path / "out")
    done = invoke("diff", tmp_path / "out", tmp_path / "out", "--format", "md")
    assert done.returncode == 0, done.stderr
    for name in names:
        assert f"| {name} | go with actions | go with actions |" in done.stdout


def test_a_portfolio_folder_that_leaves_the_portfolio_is_refused(tmp_path) -> None:
    portfolio(facts_named(tmp_path / "facts", ["east"]), tmp_path / "out")
    path = tmp_path / "out" / "portfolio.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["clusters"][0]["folder"] = ".."
    path.write_text(json.dumps(data), encoding="utf-8")
    done = invoke("diff", tmp_path / "out", tmp_path / "out")
    assert done.returncode == 2 and "clusters[0].folder" in done.stderr, done.stderr


@pytest.mark.parametrize("written", ["Zürich", nfd("Zürich")])
def test_a_cluster_named_zurich_is_bundled_and_verified(tmp_path, written: str) -> None:
    """Typed composed or decomposed, the name is one: the audit says it composed and the
    bundle is named after it."""
    inventory = tmp_path / "cluster.yaml"
    inventory.write_text(INVENTORY.format(version="11.5(1)", pub="", sub="", sm="").replace(
        "cluster: offline", f"cluster: {written}"), encoding="utf-8")
    out = tmp_path / "out"
    done = invoke("audit", "--inventory", inventory, "--from-pem",
                  downloads("row3-ec-signed-ecdsa", tmp_path / "downloads"), "--phase",
                  "post", "--agent-trust", LAB / "agent-trust.pem", "--out", out, "--bundle")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "audit.json").read_text(encoding="utf-8"))["cluster"] == "Zürich"
    bundle = out / "evidence-Zürich-post.zip"
    assert bundle.is_file()
    verified = invoke("verify", bundle)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    other = out / "decomposed.json"  # the same audit, its name typed decomposed (beside
    # the facts.json it names)
    other.write_text((out / "audit.json").read_text(encoding="utf-8").replace(
        '"cluster": "Zürich"', f'"cluster": "{nfd("Zürich")}"'), encoding="utf-8")
    diffed = invoke("diff", out / "audit.json", other, "--format", "json")
    assert diffed.returncode == 0, diffed.stderr
    assert json.loads(diffed.stdout)["warnings"] == []
