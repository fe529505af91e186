"""auditor.common.filenames, directly: a cluster or host name a user (or a certificate)
wrote becomes a file name every file system keeps, and a name inside an archive that could
land outside its folder is named as such. Until now reached only through the CLI."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from auditor.common.filenames import (
    MAX_NAME_BYTES,
    member_problem,
    name_key,
    safe_file_name,
    unique_file_names,
    windows_device,
)

#: any text at all, the hostile parts (separators, controls, devices, dots) more often
TEXTS = st.one_of(
    st.text(),
    st.lists(st.sampled_from(["..", ".", "/", "\\", "\x00", "\x1b", "CON", "nul", "COM1",
                              " ", "-", "Zu\u0308rich", "\u034f", "\ufe0f", "a", "é"]),
             max_size=12).map("".join),
)


@given(TEXTS)
def test_a_safe_file_name_is_one_plain_file_on_every_system(text: str) -> None:
    name = safe_file_name(text)
    assert name and len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert member_problem(name) is None, (text, name)
    assert not windows_device(name)
    assert unicodedata.normalize("NFC", name) == name
    assert safe_file_name(name) == name  # stable: a name made once stays that name


@given(st.lists(TEXTS, max_size=8))
def test_unique_names_are_never_alike_and_always_the_same_for_the_same_texts(
        texts: list[str]) -> None:
    names = unique_file_names(texts, reserved=lambda n: name_key(n) == "report.html")
    assert len(names) == len(texts)
    keys = [name_key(n) for n in names]
    assert len(set(keys)) == len(keys) and "report.html" not in keys
    assert unique_file_names(texts, reserved=lambda n: name_key(n) == "report.html") == names


def test_composed_and_decomposed_names_are_alike_as_macos_sees_them() -> None:
    assert name_key("Zürich") == name_key("Zu\u0308rich") == name_key("ZÜRICH.")
    assert unique_file_names(["Zürich", "Zu\u0308rich"]) == ["Zürich", "Zürich-2"]


@given(st.text(min_size=1).filter(lambda t: member_problem(t) is None))
def test_a_member_name_with_no_problem_stays_inside_its_folder(name: str) -> None:
    parts = name.split("/")
    assert not name.startswith("/") and ".." not in parts and "." not in parts
    assert all(parts) and not any(windows_device(p) for p in parts)


def test_every_way_out_of_the_folder_is_named() -> None:
    for name, says in (("../x", "'..'"), ("/etc/passwd", "absolute"), ("C:x", "absolute"),
                       ("a\\b", "backslash"), ("a/", "folder"), ("a/./b", "'.'"),
                       ("nul.txt", "device"), ("a.", "dot or space"), ("a\x01", "control"),
                       ("a\u200eb", "invisible"), ("", "empty")):
        problem = member_problem(name)
        assert problem is not None and says in problem, (name, problem)
